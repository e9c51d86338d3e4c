"""What every command-line program shares: a quiet start and one-line usage errors.

TensorFlow prints a dozen lines when it loads (oneDNN notices, CUDA probing, "cuInit ...
UNKNOWN ERROR (303)" on machines without a GPU) that say nothing about the run. The programs
load it with stderr silenced; set SVG_TF_VERBOSE=1 to see those lines. A bad flag value
ends in one line naming the flag, not absl's full help listing.
"""

from __future__ import annotations

import os
import sys

from absl import app

VERBOSE_ENV = "SVG_TF_VERBOSE"


def started_as_program() -> bool:
    """Whether this process is one of svg_tf's programs: `python -m svg_tf.NAME` (argv[0] is
    "-m" while the package loads), a console script (svg-*), or a script of the repository's
    tools/ folder. The package then loads TensorFlow quietly before anything else imports it,
    so that no program has to call `quiet_tensorflow` ahead of its imports."""
    first = sys.argv[0] if sys.argv else ""
    folder = os.path.basename(os.path.dirname(os.path.abspath(first))) if first else ""
    return (first == "-m" or os.path.basename(first).startswith("svg-")
            or (folder == "tools" and first.endswith(".py")))


def quiet_tensorflow() -> None:
    """Import TensorFlow (and probe its devices) with the process's stderr sent to
    /dev/null; a no-op when it is already loaded or SVG_TF_VERBOSE=1."""
    if "tensorflow" in sys.modules or os.environ.get(VERBOSE_ENV) == "1":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    import absl.logging

    absl.logging.set_verbosity(absl.logging.WARNING)


def check_arguments(argv, *required) -> None:
    """The usage checks every program starts with: no positional arguments, and each flag
    in `required` given (`--a and --b are required`)."""
    from absl import flags

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if any(not getattr(flags.FLAGS, name) for name in required):
        names = " and ".join(f"--{name}" for name in required)
        raise app.UsageError(f"{names} {'is' if len(required) == 1 else 'are'} required")


def usage_errors_in_one_line(main):
    """`main` with app.UsageError printed as `error: ...` (exit status 2) instead of the
    program's whole --help text, and a FileReadError (a file missing, damaged or refused,
    named in the message) as one line too."""

    from svg_tf.errors import FileReadError

    def wrapped(argv):
        program = os.path.basename(sys.argv[0]).removesuffix(".py")
        try:
            return main(argv)
        except app.UsageError as error:
            print(f"{program}: error: {error}\n(--help lists every flag)", file=sys.stderr)
            return 2
        except FileReadError as error:  # a file that is missing, damaged or refused
            print(f"{program}: error: {error}", file=sys.stderr)
            return 2

    return wrapped


def run_dataset_options(logdir, flag_values) -> dict:
    """The dataset options that flags set for the run in `logdir` (e.g. --digits for SM-MNIST,
    --verify_data for KTH/BAIR), as its dataset's spec lists them; a usage error when
    `logdir` is not a run directory. (Where the data is, the library already resolves:
    --data_dir, else the run's data.json.)"""
    from svg_tf import datasets, run_dir

    try:
        config = run_dir.read_config(logdir)
    except FileNotFoundError as error:
        raise app.UsageError(str(error))
    return datasets.spec(config.dataset).options_from_flags(flag_values)


HELP_FLAGS = ("--help", "-h", "-?", "--helpshort", "--helpfull", "--helpxml")


def _one_line_warning(message, category, filename, lineno, line=None):
    """Warnings as one line (`SubsetWarning: ...`), without the source line Python echoes,
    which reads like a traceback."""
    return f"{category.__name__}: {message}\n"


def run(main, define_flags=None) -> None:
    """Entry point of a program: quiet TensorFlow, define its flags, run `main`. --help
    exits with status 0 (absl's exits with 1)."""
    import warnings

    quiet_tensorflow()
    warnings.formatwarning = _one_line_warning
    if define_flags is not None:
        define_flags()
    try:
        app.run(usage_errors_in_one_line(main))
    except SystemExit as exit_:
        if exit_.code == 1 and any(arg in HELP_FLAGS for arg in sys.argv[1:]):
            sys.exit(0)
        raise
