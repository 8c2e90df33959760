"""The configuration contract: where the boards file is found, `[targets.NAME]` tables
inheriting a built-in `profile`, the older targets.toml, and a schema that names every
mistake."""

from __future__ import annotations

import pytest
from bgnn_deploy.targets.profiles import get_target, list_targets

from bgnn_deploy.errors import ConfigError


def board(name: str, **keys) -> str:
    """One ``[targets.NAME]`` table in TOML."""
    lines = [f"[targets.{name}]"]
    for key, value in keys.items():
        text = str(value).lower() if isinstance(value, bool) else repr(value)
        lines.append(f"{key} = {text}".replace("'", '"'))
    return "\n".join(lines) + "\n"


def test_a_board_inherits_its_built_in_profile_and_overrides_it(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text(
        board("lab-pi", profile="rpi4", host="10.0.0.7", port=2222, user="pi", workdir="/srv/b")
    )
    pi = get_target("lab-pi", config=path)
    rpi4 = get_target("rpi4")
    assert (pi.arch, pi.runtime, pi.energy, pi.transport, pi.cores) == (
        rpi4.arch,
        rpi4.runtime,
        rpi4.energy,
        rpi4.transport,
        rpi4.cores,
    )
    assert (pi.host, pi.port, pi.user, pi.workdir, pi.profile) == (
        "10.0.0.7",
        2222,
        "pi",
        "/srv/b",
        "rpi4",
    )
    assert pi.source == str(path)
    # its own keys win over the inherited ones, and the built-in itself is untouched
    path.write_text(board("lab-pi", profile="rpi4", host="h", energy="none", cores=2))
    assert (get_target("lab-pi", config=path).energy, get_target("rpi4").energy) == (
        "none",
        "external",
    )
    assert get_target("lab-pi", config=path).cores == 2


def test_the_config_file_is_found_in_the_documented_order(tmp_path, monkeypatch):
    def place(path, host):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(board("b", profile="rpi4", host=host))
        return path

    user = place(tmp_path / "user-config" / "bgnn-deploy" / "config.toml", "user-dir")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert get_target("b").host == "user-dir"
    place(work / "bgnn-deploy.toml", "cwd")
    assert get_target("b").host == "cwd"
    monkeypatch.setenv("BGNN_DEPLOY_CONFIG", str(place(tmp_path / "env.toml", "env")))
    assert get_target("b").host == "env"
    explicit = place(tmp_path / "explicit.toml", "explicit")
    assert get_target("b", config=explicit).host == "explicit"
    assert user.is_file()


def test_a_named_config_file_that_is_missing_is_an_error(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"config file not found.*--config"):
        list_targets(tmp_path / "nope.toml")
    monkeypatch.setenv("BGNN_DEPLOY_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match="BGNN_DEPLOY_CONFIG"):
        list_targets()


def test_the_older_targets_file_still_works_and_the_config_file_wins(tmp_path, monkeypatch):
    legacy = tmp_path / "targets.toml"
    legacy.write_text(
        '[old-pi]\narch = "aarch64"\ntransport = "ssh"\nhost = "old"\n'
        '[both]\narch = "aarch64"\ntransport = "ssh"\nhost = "legacy"\n'
    )
    monkeypatch.setenv("BGNN_DEPLOY_TARGETS", str(legacy))
    config = tmp_path / "c.toml"
    config.write_text(board("both", profile="rpi5", host="new"))
    targets = list_targets(config)
    assert targets["old-pi"].host == "old" and targets["old-pi"].arch == "aarch64"
    assert targets["both"].host == "new" and targets["both"].energy == "rpi5-pmic"


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        (board("b", profile="rpi4", hots="x"), "unknown key 'hots'", "did you mean 'host'?"),
        (
            board("b", profile="rpi4", host="x", port="abc"),
            "port must be an integer, got a string ('abc')",
            "SSH port",
        ),
        (board("b", profile="rpi4", host="x", port=True), "port must be an integer", None),
        (
            board("b", profile="rpi4", host="x", port=70000),
            "port must be between 1 and 65535",
            None,
        ),
        (
            board("b", profile="rpi4", transport="sftp"),
            "transport 'sftp' is not one of local, ssh",
            None,
        ),
        (board("b", arch="arm64", transport="ssh"), "arch 'arm64' is not one of", None),
        (
            board("b", profile="rpi4", energy="ina3222"),
            "energy 'ina3222' is not one of",
            "did you mean 'ina3221'?",
        ),
        (
            board("b", profile="rpi-4", host="x"),
            "unknown built-in profile 'rpi-4'",
            "did you mean 'rpi4'?",
        ),
        (board("b", profile="rpi4", launcher="qemu"), "launcher must be a list of strings", None),
        (board("b", profile="rpi4", cores=0), "cores must be at least 1", None),
        (
            '[target.b]\nprofile = "rpi4"\n',
            "unknown top-level key 'target'",
            "did you mean 'targets'?",
        ),
        ("[targets]\nb = 3\n", "'targets.b' must be a table", None),
        ("[targets.b\n", "not valid TOML", None),
    ],
)
def test_schema_mistakes_are_named(tmp_path, text, message, hint):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        list_targets(path)
    assert message in str(err.value) and str(path) in str(err.value)
    if hint is not None:
        assert hint in (err.value.hint or "")


def test_cli_takes_config_and_refuses_a_bad_one_in_one_line(cli, user_error, tmp_path):
    path = tmp_path / "my boards.toml"
    path.write_text(board("lab-pi", profile="rpi4", host="10.0.0.7", port=2222))
    shown = cli("targets", "show", "lab-pi", "--config", path)
    assert shown.exit_code == 0, shown.output
    assert "10.0.0.7" in shown.stdout and "2222" in shown.stdout and "rpi4" in shown.stdout
    listed = cli("targets", "list", "--config", path)
    assert "lab-pi" in listed.stdout and "rpi4" in listed.stdout
    path.write_text(board("lab-pi", profile="rpi4", host="x", port="abc"))
    for args in (
        ("targets", "show", "lab-pi"),
        ("build", "--target", "lab-pi"),
        ("run", tmp_path / "m.tflite", "--target", "lab-pi"),
        ("verify", tmp_path / "m.tflite", "--target", "lab-pi"),
        ("targets", "check", "lab-pi"),
    ):
        user_error(cli(*args, "--config", path), "port must be an integer")
    user_error(
        cli("targets", "list", "--config", tmp_path / "missing.toml"), "config file not found"
    )
