"""The documentation points at things that exist: every relative link and image in README.md
and docs/*.md resolves, and every `python -m svg_tf.PROGRAM --flag` shown names a real
program and a flag it defines."""

import dataclasses
import glob
import os
import re

import pytest

from svg_tf.config import SVGConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
ABSL_FLAGS = {"help", "helpfull", "helpshort", "helpxml", "flagfile", "undefok", "verbosity",
              "v", "logtostderr", "alsologtostderr", "log_dir", "only_check_args", "pdb",
              "pdb_post_mortem", "run_with_pdb", "run_with_profiling", "profile_file",
              "use_cprofile_for_profiling", "stderrthreshold", "showprefixforinfo"}


def _links(text):
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if not re.match(r"[a-z]+://|#|mailto:", target):
            yield target.split("#")[0]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: os.path.relpath(p, ROOT))
def test_relative_links_and_images_resolve(page):
    text = open(page, encoding="utf-8").read()
    missing = [t for t in _links(text)
               if t and not os.path.exists(os.path.join(os.path.dirname(page), t))]
    assert not missing, missing


def program_flags(program: str) -> set:
    """The flags a program defines, read from its source (DEFINE_* calls; train's are
    generated from the config fields, evaluate's resource flags from the metrics)."""
    path = os.path.join(ROOT, *program.split(".")) + ".py"
    if not os.path.exists(path):
        return set()
    text = open(path, encoding="utf-8").read()
    names = set(re.findall(r"DEFINE_\w+\(\s*\"(\w+)\"", text))
    if program == "svg_tf.train":
        names |= {f.metadata["flag"] or f.name for f in dataclasses.fields(SVGConfig)}
    if program == "svg_tf.evaluate":
        from svg_tf.metrics import requirements

        names |= set(requirements())
    return names | ABSL_FLAGS


def _commands(text):
    text = text.replace("\\\n", " ")
    for line in text.splitlines():
        for match in re.finditer(r"python -m (svg_tf(?:\.[a-z_]+)+)(.*)", line):
            command = re.split(r"&&|\s#\s|`", match.group(2))[0]
            yield match.group(1), re.findall(r"(?<![\w-])--([a-z_0-9]+)", command)


def test_every_command_shown_names_a_real_program_and_its_flags():
    problems = []
    seen = 0
    for page in PAGES:
        for program, used in _commands(open(page, encoding="utf-8").read()):
            seen += 1
            defined = program_flags(program)
            if not defined:
                problems.append(f"{os.path.relpath(page, ROOT)}: no program {program}")
                continue
            problems += [f"{os.path.relpath(page, ROOT)}: {program} has no --{flag}"
                         for flag in used if flag not in defined]
    assert seen > 20
    assert not problems, problems


def test_the_presets_table_quotes_the_preset_data():
    """README's presets table: each row's settings and LP parameter count come from
    svg_tf/presets.py."""
    from svg_tf.presets import PRESETS

    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    for name, preset in PRESETS.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| {name} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        s = preset.settings
        assert cells[1] == f"{s['backbone']}64" and cells[2] == str(s["channels"]), row
        assert cells[3] == str(s["z_dim"]) and cells[4] == f"{s['n_past']} → {s['n_future']}"
        assert float(cells[5]) == s["beta"] and float(cells[6]) == s["lr"], row
        assert cells[7] == f"{preset.parameters['lp']:,}", row


# The public functions the README and docs/ point researchers to. Each follows the docstring
# convention of docs/architecture.md: a first line, every parameter under Args:, Returns:.
PUBLIC_API = [
    "svg_tf.config:get_config", "svg_tf.models.build:build_model",
    "svg_tf.run_dir:load_run", "svg_tf.run_dir:save_model", "svg_tf.training:train",
    "svg_tf.evaluation:evaluate_run", "svg_tf.evaluation:compare_runs",
    "svg_tf.serving:export", "svg_tf.serving:describe_signatures",
    "svg_tf.datasets:load", "svg_tf.datasets:train_stream", "svg_tf.datasets:test_stream",
    "svg_tf.datasets.videos_prepare:prepare",
    "svg_tf.models.svg:SVG.elbo_terms", "svg_tf.models.svg:SVG.sample",
    "svg_tf.models.svg:SVG.reconstruct", "svg_tf.models.svg:SVG.prior_on_frames",
    "svg_tf.metrics.peak_snr:psnr", "svg_tf.metrics.structural:ssim",
    "svg_tf.metrics.lpips_network:lpips", "svg_tf.metrics.frechet_video:fvd",
    "svg_tf.metrics.frechet_video:load_i3d", "svg_tf.metrics.frechet:frechet_distance",
    "svg_tf.metrics.selection:best_of_n", "svg_tf.metrics.selection:mean_and_ci",
    "svg_tf.torch_interop.authors_checkpoint:convert",
    "svg_tf.torch_interop.lpips_weights:convert",
]


def _documented_names(args_section):
    """Parameter names an Args: section documents ("x, y:" documents both)."""
    names = set()
    for line in args_section.splitlines():
        match = re.match(r"^\s{0,4}(\*{0,2}[\w, *]+):", line)
        if match and not line.startswith(" " * 6):
            names.update(n.strip().lstrip("*") for n in match.group(1).split(","))
    return names


def docstring_problems(function):
    """What a public function's docstring misses of the convention (empty: none)."""
    import inspect

    doc = inspect.getdoc(function) or ""
    problems = []
    if not doc or not doc.splitlines()[0].strip():
        problems.append("no first line")
    parameters = [p for p in inspect.signature(function).parameters if p != "self"]
    if parameters:
        if "\nArgs:\n" not in doc:
            problems.append("no Args: section")
        else:
            section = doc.split("\nArgs:\n", 1)[1].split("\nReturns:", 1)[0]
            missing = [p for p in parameters if p not in _documented_names(section)]
            if missing:
                problems.append(f"Args: misses {missing}")
    if "\nReturns:\n" not in doc:
        problems.append("no Returns: section")
    history = re.search(r"used to |accepted silently|no longer|before the fix", doc)
    if history:
        problems.append(f"change history ({history.group(0)!r}) belongs in commits")
    return problems


@pytest.mark.parametrize("name", PUBLIC_API)
def test_public_functions_follow_the_docstring_convention(name):
    import importlib

    module, qualname = name.split(":")
    function = importlib.import_module(module)
    for part in qualname.split("."):
        function = getattr(function, part)
    assert docstring_problems(function) == [], name


def test_the_docstring_check_finds_what_is_missing():
    def undocumented(a, b, c=1):
        """Does something. Args:
        a: one.
        """

    def documented(a, b):
        """Does something.

        Args:
          a, b: two things.

        Returns:
          Nothing of note.
        """

    assert docstring_problems(undocumented) == ["no Args: section", "no Returns: section"]
    assert docstring_problems(documented) == []

    def partly(x, y, **options):
        """Does something that used to fail.

        Args:
          x: one.
          **options: more.

        Returns:
          None.
        """

    assert docstring_problems(partly) == ["Args: misses ['y']",
                                          "change history ('used to ') belongs in commits"]
