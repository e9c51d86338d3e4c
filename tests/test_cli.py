"""What every program shares: --help exits 0, warnings are one line."""

import subprocess
import sys

from svg_tf import cli

PROGRAMS = ["svg_tf.train", "svg_tf.evaluate", "svg_tf.convert_pytorch", "svg_tf.prepare_videos"]


def test_help_exits_zero_and_lists_the_flags():
    processes = [subprocess.Popen([sys.executable, "-m", program, "--help"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for program in PROGRAMS]
    for program, process in zip(PROGRAMS, processes):
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, (program, stderr[-2000:])
        assert "--" in stdout and program.split(".")[-1] in stdout + stderr
        # TensorFlow was loaded quietly by the package (cli.started_as_program)
        assert not any(word in stderr for word in ("oneDNN", "cuda", "cpu_feature_guard")), \
            (program, stderr[-2000:])


def test_warnings_are_one_line_without_the_source_line():
    text = cli._one_line_warning("digits from the subset", UserWarning, "x.py", 3,
                                 "images, _, _ = load_digits(split)")
    assert text == "UserWarning: digits from the subset\n"
