"""Where DuckDB's SQL and Spark SQL differ, for the normalising and aggregating SQL that
both engines run (formats.py, aggregate.py). Everything not here is written once and runs
on both: CASE, coalesce, nullif, trim, lower/upper, `||`, split_part, regexp_extract,
try_cast to numbers, struct field access (`f.l4.TCP.source_port`), window functions,
bool_or, GROUP BY.

The differences, each a method:
- list indexing: DuckDB's `l[1]` is 1-based and NULL past the end; Spark's `l[0]` is
  0-based and (in ANSI mode) an error past the end, so Spark uses try_element_at;
- joining and splitting lists: array_to_string/string_split vs array_join/split (a regex);
- timestamps: DuckDB parses RFC 3339 by a cast to TIMESTAMPTZ and Unix seconds by
  to_timestamp; Spark by try_to_timestamp and timestamp_seconds (the session's zone is
  UTC, so both give UTC wall-clock TIMESTAMPs);
- string literals: Spark unescapes backslashes inside them, DuckDB does not;
- regex matching: regexp_matches vs RLIKE.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DUCKDB", "SPARK", "Dialect"]


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str

    @property
    def spark(self) -> bool:
        return self.name == "spark"

    def lit(self, text: str) -> str:
        """A string literal holding `text` exactly."""
        body = text.replace("'", "''")
        if self.spark:
            body = body.replace("\\", "\\\\")
        return f"'{body}'"

    def at(self, lst: str, i: int) -> str:
        """Element i (1-based) of a list, NULL when there is none."""
        return f"try_element_at({lst}, {i})" if self.spark else f"({lst})[{i}]"

    def size(self, lst: str) -> str:
        return f"size({lst})" if self.spark else f"len({lst})"

    def join(self, lst: str, sep: str) -> str:
        f = "array_join" if self.spark else "array_to_string"
        return f"{f}({lst}, {self.lit(sep)})"

    def split(self, text: str, sep: str) -> str:
        """`text` cut at the one-character `sep` (not a regex special character)."""
        return (
            f"split({text}, {self.lit(sep)})"
            if self.spark
            else f"string_split({text}, {self.lit(sep)})"
        )

    def matches(self, text: str, pattern: str) -> str:
        if self.spark:
            return f"({text} RLIKE {self.lit(pattern)})"
        return f"regexp_matches({text}, {self.lit(pattern)})"

    def extract(self, text: str, pattern: str, group: int) -> str:
        return f"regexp_extract({text}, {self.lit(pattern)}, {group})"

    def ts(self, expr: str) -> str:
        """An RFC 3339 text (fractions of a second allowed) or Unix seconds, as a UTC
        TIMESTAMP; NULL when it is neither. A date has its first '-' fifth (a number
        never does), a cheaper test per record than a regex."""
        # Seconds past year 9999 are no time for either engine (Spark would throw).
        n = f"try_cast(trim({expr}) AS DOUBLE)"
        n = f"CASE WHEN abs({n}) < 253402300800 THEN {n} END"
        if self.spark:
            secs = f"timestamp_seconds({n})"
            text = f"try_to_timestamp({expr})"
        else:
            secs = f"to_timestamp({n})::TIMESTAMP"
            text = f"timezone('UTC', try_cast({expr} AS TIMESTAMPTZ))"
        return f"CASE WHEN substr({expr}, 5, 1) = '-' THEN {text} ELSE {secs} END"


DUCKDB = Dialect("duckdb")
SPARK = Dialect("spark")
