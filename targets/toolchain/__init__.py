"""Getting what a runner needs: the runtime library (from PyPI wheels) and a compiler (zig)."""
