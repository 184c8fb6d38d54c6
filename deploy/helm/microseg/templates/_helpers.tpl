{{- define "microseg.name" -}}microseg-webhook{{- end -}}
{{- define "microseg.labels" -}}
app.kubernetes.io/name: microseg-webhook
app.kubernetes.io/part-of: microseg
{{- end -}}
