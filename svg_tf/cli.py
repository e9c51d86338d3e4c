"""What every command-line program shares: a quiet start, flags checked first, one-line
usage errors and --help grouped by concern.

TensorFlow prints a dozen lines when it loads (oneDNN notices, CUDA probing, "cuInit ...
UNKNOWN ERROR (303)" on machines without a GPU) that say nothing about the run. In a program
it is loaded with stderr silenced, whenever something first imports it (`QuietImport`); set
SVG_TF_VERBOSE=1 to see those lines. Programs whose flags need no TensorFlow (train,
generate, export, the converters) parse and check their flags before it loads, so --help
and a typo answer in a fraction of a second. A bad flag ends in one line naming it, with
exit status 2.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys
import textwrap

from absl import app, flags

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


@contextlib.contextmanager
def _stderr_silenced():
    """The process's file descriptor 2 sent to /dev/null (TensorFlow's C++ logs bypass
    sys.stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_tensorflow() -> None:
    """Import TensorFlow (and probe its devices) with the process's stderr sent to
    /dev/null; a no-op when it is already loaded or SVG_TF_VERBOSE=1."""
    if "tensorflow" in sys.modules or os.environ.get(VERBOSE_ENV) == "1":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _stderr_silenced():
        import tensorflow as tf

        tf.config.list_physical_devices()
    import absl.logging

    absl.logging.set_verbosity(absl.logging.WARNING)


class QuietImport(importlib.abc.MetaPathFinder):
    """Makes the first `import tensorflow`, wherever it happens, go through
    `quiet_tensorflow`: a program then needs no particular import order to start quietly,
    and one that never needs TensorFlow (a --help, a bad flag) never loads it."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        QuietImport.uninstall()
        quiet_tensorflow()
        return importlib.machinery.ModuleSpec(name, _Loaded())

    @classmethod
    def install(cls):
        if os.environ.get(VERBOSE_ENV) != "1" and "tensorflow" not in sys.modules and not any(
                isinstance(finder, cls) for finder in sys.meta_path):
            sys.meta_path.insert(0, cls())

    @classmethod
    def uninstall(cls):
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, cls)]


class _Loaded(importlib.abc.Loader):
    """Hands the import machinery the module `quiet_tensorflow` has just loaded."""

    def create_module(self, spec):
        return sys.modules[spec.name]

    def exec_module(self, module):
        pass


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
        program = program_name()
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


def program_name() -> str:
    return os.path.basename(sys.argv[0]).removesuffix(".py") if sys.argv else "svg_tf"


def _parse_flags(argv):
    """absl's parsing, but an unknown flag or a bad value is one line and exit status 2
    (absl prints the whole flag listing and exits with 1)."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        print(f"{program_name()}: error: {error}\n(--help lists every flag)", file=sys.stderr)
        sys.exit(2)


def help_text(doc: str, names, groups=None, width=100) -> str:
    """--help: the program's docstring, then its flags under one heading per concern
    (`groups`: flag name -> heading, in the order headings first appear; flags not in it
    come last, under "other")."""
    groups = groups or {n: "flags" for n in names}
    headings = list(dict.fromkeys(groups.get(n, "other") for n in names))
    if "other" in headings:
        headings.append(headings.pop(headings.index("other")))
    lines = [doc.strip(), ""] if doc else []
    for heading in headings:
        lines.append(f"{heading}:")
        for name in names:
            if groups.get(name, "other") != heading:
                continue
            flag = flags.FLAGS[name]
            choices = getattr(flag.parser, "enum_values", None)
            value = f"<{'|'.join(choices)}>" if choices else (
                "" if flag.boolean else f"<{flag.parser.flag_type()}>")
            default = "" if flag.default in (None, "") else f" (default: {flag.default})"
            lines.append(f"  --{name}{'=' + value if value else ''}")
            text = flag.help.removeprefix(f"{value}: ") if choices else flag.help
            lines += textwrap.wrap(f"{text}{default}", width, initial_indent=" " * 6,
                                   subsequent_indent=" " * 6)
        lines.append("")
    return "\n".join(lines)


def run(main, define_flags=None, groups=None, check=None) -> None:
    """Entry point of a program: define its flags and check them (`check(argv)`, which may
    raise app.UsageError, runs before TensorFlow loads), then load TensorFlow quietly (if
    nothing has yet) and run `main`. --help prints the flags grouped by concern (`groups`,
    see help_text) and exits with status 0."""
    import warnings

    QuietImport.install()
    warnings.formatwarning = _one_line_warning
    absl_own = set(flags.FLAGS)
    if define_flags is not None:
        define_flags()
    if any(arg in HELP_FLAGS for arg in sys.argv[1:]):
        doc = getattr(sys.modules.get(main.__module__), "__doc__", "") or ""
        names = [n for n in flags.FLAGS if n not in absl_own]
        print(help_text(doc, names, groups))
        sys.exit(0)

    def quietly_then_main(argv):
        if check is not None:
            status = usage_errors_in_one_line(check)(argv)
            if status:
                return status
        quiet_tensorflow()
        return usage_errors_in_one_line(main)(argv)

    app.run(quietly_then_main, flags_parser=_parse_flags)
