"""The one error type for a file svg_tf cannot read or refuses to read.

Files come from users and from the internet (the authors' .pth checkpoints, LPIPS and I3D
weights, run directories that were edited, truncated or half-copied). Whatever is wrong, the
programs print the message as one line (exit status 2), so it must name the file and say
what is wrong with it and, where there is one, the way out.
"""

from __future__ import annotations


class FileReadError(ValueError):
    """A file is missing, damaged, of the wrong kind or refused as unsafe.

    Args:
        path: the file (or folder) concerned; the message starts with it.
        problem: what is wrong, in a few words (and the way out, if any).
    """

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
