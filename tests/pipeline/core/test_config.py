"""Layered, validated configuration: defaults < file < environment < arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.config import Config, ReaderConfig, default_config_path, load_config
from pipeline.core.errors import ConfigError


def test_defaults_load_and_match_the_model() -> None:
    cfg = load_config(environ={})
    assert isinstance(cfg, Config)
    # no upper temperature bound by default: hot sources are data
    assert cfg.reader.plausible_min_k == 220.0 and cfg.reader.plausible_max_k is None
    assert cfg.reader.qa_mask_bits == (0, 1, 2, 3, 4)
    assert cfg.grid.resolution_m == 30.0
    assert cfg.detection.min_z == 3.0
    # the shipped YAML and the model defaults agree
    assert cfg == Config()
    assert default_config_path().is_file()


def test_environment_is_read_from_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEATWATCH__DETECTION__MIN_Z", "4")
    monkeypatch.setenv("HEATWATCH__READER__QA_MASK_BITS", "[0, 3]")
    cfg = load_config()
    assert cfg.detection.min_z == 4.0
    assert cfg.reader.qa_mask_bits == (0, 3)


def test_precedence_arguments_env_file_defaults(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("detection:\n  min_z: 5\n  min_anomaly_k: 3.5\ngrid:\n  margin_m: 1000\n")
    env = {"HEATWATCH__DETECTION__MIN_Z": "4", "HEATWATCH__GRID__MARGIN_M": "2000",
           "OTHER__DETECTION__MIN_Z": "9"}
    over = {"detection": {"min_z": 6}}
    assert load_config(environ={}).detection.min_z == 3.0                       # defaults
    assert load_config(path, environ={}).detection.min_z == 5.0                 # file
    assert load_config(path, environ=env).detection.min_z == 4.0                # env > file
    cfg = load_config(path, environ=env, overrides=over)
    assert cfg.detection.min_z == 6.0                                           # args > env
    assert cfg.detection.min_anomaly_k == 3.5   # the file's other keys survive the merge
    assert cfg.grid.margin_m == 2000.0
    assert cfg.grid.resolution_m == 30.0


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"grid": {"resolution_m": -30}}, "grid.resolution_m"),
        ({"reader": {"plausible_min_k": 360.0}}, "plausible_min_k"),
        ({"reader": {"plausible_min_k": 300.0, "plausible_max_k": 300.0}}, "plausible_min_k"),
        ({"detection": {"min_zz": 3}}, "detection.min_zz"),
        ({"colour": "blue"}, "colour"),
        ({"anomaly": {"inner_blocks": 3, "outer_blocks": 2}}, "outer_blocks"),
        ({"reader": {"qa_mask_bits": [3, 16]}}, "qa_mask_bits"),
    ],
)
def test_out_of_range_or_unknown_values_name_the_key(overrides: dict, names: str) -> None:
    with pytest.raises(ConfigError, match=names) as info:
        load_config(overrides=overrides, environ={})
    assert isinstance(info.value, ValueError)


def test_bad_value_in_the_environment_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"detection\.min_z"):
        load_config(environ={"HEATWATCH__DETECTION__MIN_Z": "-1"})


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid:\n  resolution_m: 0\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml") as info:
        load_config(bad, environ={})
    assert "grid.resolution_m" in str(info.value)
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path, environ={})
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml", environ={})
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(tmp_path / "list.yaml", environ={})
    (tmp_path / "broken.yaml").write_text("grid: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "broken.yaml", environ={})
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "binary.yaml", environ={})


def test_python_tags_are_rejected(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.yaml"
    evil.write_text(f"grid: !!python/object/apply:os.mkdir ['{marker}']\n"
                    "reader: !!python/object:pipeline.core.config.ReaderConfig {}\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(evil, environ={})
    assert not marker.exists()


def test_environment_cannot_smuggle_python_or_garbage(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    env = {"HEATWATCH__GRID__MARGIN_M": f"!!python/object/apply:os.mkdir ['{marker}']"}
    with pytest.raises(ConfigError, match="HEATWATCH__GRID__MARGIN_M"):
        load_config(environ=env)
    assert not marker.exists()
    with pytest.raises(ConfigError, match="HEATWATCH__GRID__MARGIN_M"):
        load_config(environ={"HEATWATCH__GRID__MARGIN_M": "[1, 2"})
    clash = {"HEATWATCH__GRID": "5", "HEATWATCH__GRID__MARGIN_M": "100"}
    with pytest.raises(ConfigError):
        load_config(environ=clash)


def test_sections_are_frozen() -> None:
    cfg = ReaderConfig()
    with pytest.raises(ValueError, match="frozen"):
        cfg.plausible_min_k = 1.0  # type: ignore[misc]


def test_as_dict_is_json_compatible() -> None:
    import json

    data = load_config(environ={}).as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["reader"]["qa_mask_bits"] == [0, 1, 2, 3, 4]
