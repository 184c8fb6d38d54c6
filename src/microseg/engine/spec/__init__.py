"""Reference evaluators, written from the specs one (source, destination, port) at a time:
the oracles the property tests hold the fast engine to. The index and the mesh table never
import them."""
