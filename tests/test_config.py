import json

import pytest

from svg_tf.config import PRESETS, SVGConfig, get_config


def test_presets_follow_the_paper():
    smmnist = get_config("smmnist")
    assert (smmnist.backbone, smmnist.channels, smmnist.z_dim) == ("dcgan", 1, 10)
    assert (smmnist.n_past, smmnist.n_future, smmnist.beta, smmnist.lr) == (5, 10, 1e-4, 0.002)
    kth = get_config("kth", "fp")
    assert (kth.backbone, kth.model, kth.n_past, kth.n_future, kth.z_dim) == ("vgg", "fp", 10,
                                                                             10, 24)
    bair = get_config("bair")
    assert (bair.backbone, bair.channels, bair.z_dim, bair.n_past) == ("vgg", 3, 64, 2)
    assert set(PRESETS) == {"smmnist", "kth", "bair"}


def test_overrides_and_json_round_trip():
    config = get_config("bair", "det", z_dim=8, skip="every")
    assert config.z_dim == 8 and config.skip == "every" and config.model == "det"
    assert SVGConfig.from_json(config.to_json()) == config
    assert json.loads(config.to_json())["dataset"] == "bair"


@pytest.mark.parametrize("field, value, allowed", [
    ("image_size", 96, "64, 128"),
    ("backbone", "resnet", "'dcgan', 'vgg'"),
    ("model", "gan", "'lp', 'fp', 'det'"),
    ("n_past", 0, "from 1 to 999"),
    ("n_future", 0, "from 1 to 1,000"),
    ("z_dim", -3, "from 1 to 1,024"),
    ("g_dim", 0, "from 1 to 4,096"),
    ("batch_size", 0, "from 1 to 16,384"),
    ("skip", "first", "'last', 'original', 'every'"),
    ("seed", -5, "from 0 to 2,147,483,647"),  # NumPy seeding refused it deep inside training
    ("channels", 3, "1 for smmnist"),  # SM-MNIST frames are grayscale
    ("mixed_precision", "fp8", "'none', 'float16', 'bfloat16'"),
])
def test_invalid_values_name_field_value_and_allowed(field, value, allowed):
    with pytest.raises(ValueError) as info:
        get_config("smmnist", **{field: value})
    message = str(info.value)
    assert field in message and repr(value) in message and allowed in message


def test_unknown_dataset_and_field():
    with pytest.raises(ValueError, match="dataset='ucf'.*smmnist"):
        get_config("ucf")
    with pytest.raises(ValueError, match="unknown config field.*zdim"):
        get_config("smmnist", zdim=3)
