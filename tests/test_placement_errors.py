"""A block that cannot be built says where it is and which config keys decide it."""

import pytest
from conftest import build, small_cfg

from gta_slowfast.models import BlockConstructionError


def test_groups_that_do_not_divide_the_fast_pathway_name_the_place_and_keys():
    # SlowFast at width 8: the Fast pathway's res3 blocks have 8 * 4 * 2 / 8 = 8 channels, so 2
    # inner channels (GTA.INNER_REDUCTION 4), which GTA.GROUPS 4 does not divide; the Slow
    # pathway's 64 channels (16 inner) build.
    cfg = small_cfg("gta", arch="slowfast")
    cfg.GTA.GROUPS = 4
    with pytest.raises(BlockConstructionError) as error:
        build(cfg)
    message = str(error.value)
    assert message.startswith("s3.pathway1_nonlocal1: the 'gta' block for its 8 channels "
                              "cannot be built (NONLOCAL.TYPE='gta', NONLOCAL.LOCATION[1][1]=[1, 3]"
                              ), message
    assert "SLOWFAST.BETA_INV=8" in message and "RESNET.WIDTH_PER_GROUP=8" in message
    assert "GTA.GROUPS=4 must be >= 1 and divide the inner channel count 2" in message
    assert isinstance(error.value, ValueError)


def test_a_clip_length_the_place_cannot_divide_names_the_place_and_keys():
    cfg = small_cfg("gta")
    cfg.NONLOCAL.GROUP = [[1], [3], [1], [1]]  # res3 sees 8 frames: not divisible by 3
    with pytest.raises(BlockConstructionError, match=r"^s3.pathway0_nonlocal1: .*"
                       r"DATA.NUM_FRAMES=8, NONLOCAL.GROUP\[1\]\[0\]=3\): "
                       r"NONLOCAL.GROUP\[1\]\[0\]: 8 frames are not divisible by 3"):
        build(cfg)
