# SPDX-License-Identifier: Apache-2.0
"""The ocid command line: version, help, `config`, `check`, and how a bad
configuration is reported (exit code 2, "file:line: key: ...")."""

import re

import pytest

from ocid_it import config_text, package_version, run_ocid


def write_conf(tmp_path, text, name="crio.conf"):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def base_conf(tmp_path, log_level="debug"):
    return config_text(tmp_path / "root", tmp_path / "run",
                       tmp_path / "run" / "ocid.sock", tmp_path / "cni",
                       log_level)


def setting(output, key):
    """The value of a top-level string setting in `ocid config` output."""
    m = re.search(rf'^\s*{re.escape(key)}\s*=\s*"([^"]*)"\s*;', output, re.M)
    assert m, f"no {key} in:\n{output}"
    return m.group(1)


def settings_only(output):
    """`ocid config` output without comments (which may name the files)."""
    return [line for line in output.splitlines()
            if line.strip() and not line.lstrip().startswith(("#", "//"))]


def test_version_command():
    r = run_ocid("version")
    assert r.returncode == 0, r.stderr
    assert package_version() in r.stdout


def test_help():
    r = run_ocid("--help")
    assert r.returncode == 0, r.stderr
    for word in ("--config", "--root", "--runroot", "--listen", "--log-level",
                 "config", "check", "version"):
        assert word in r.stdout, f"--help does not mention {word}:\n{r.stdout}"


def test_unknown_option_is_a_usage_error():
    r = run_ocid("--no-such-option")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "--no-such-option" in r.stderr


def test_config_output_validates(tmp_path):
    conf = write_conf(tmp_path, base_conf(tmp_path))
    r = run_ocid("--config", conf, "config")
    assert r.returncode == 0, r.stderr
    assert setting(r.stdout, "root") == str(tmp_path / "root")
    assert setting(r.stdout, "listen") == str(tmp_path / "run" / "ocid.sock")
    assert setting(r.stdout, "log_level") == "debug"
    assert str(tmp_path / "cni") in r.stdout, "the net-cni group is lost"

    out = write_conf(tmp_path / "again", r.stdout)
    c = run_ocid("--config", out, "check")
    assert c.returncode == 0, c.stderr
    # printing the printed configuration changes nothing
    again = run_ocid("--config", out, "config")
    assert again.returncode == 0, again.stderr
    assert settings_only(again.stdout) == settings_only(r.stdout)


def test_defaults_validate(tmp_path):
    """An empty crio.conf means every default; they print and validate."""
    empty = write_conf(tmp_path, "")
    r = run_ocid("--config", empty, "config")
    assert r.returncode == 0, r.stderr
    out = write_conf(tmp_path / "out", r.stdout)
    c = run_ocid("--config", out, "check")
    assert c.returncode == 0, c.stderr


def test_command_line_overrides(tmp_path):
    conf = write_conf(tmp_path, base_conf(tmp_path))
    r = run_ocid("--config", conf, "--root", tmp_path / "r2", "--runroot",
                 tmp_path / "rr2", "--listen", tmp_path / "x.sock",
                 "--log-level", "warning", "config")
    assert r.returncode == 0, r.stderr
    assert setting(r.stdout, "root") == str(tmp_path / "r2")
    assert setting(r.stdout, "runroot") == str(tmp_path / "rr2")
    assert setting(r.stdout, "listen") == str(tmp_path / "x.sock")
    assert setting(r.stdout, "log_level") == "warning"


def test_dropins_in_lexical_order(tmp_path):
    conf = write_conf(tmp_path, base_conf(tmp_path))
    write_conf(tmp_path, 'log_level = "error";\n', "crio.conf.d/20-b.conf")
    write_conf(tmp_path, 'log_level = "warning";\n', "crio.conf.d/10-a.conf")
    r = run_ocid("--config", conf, "config")
    assert r.returncode == 0, r.stderr
    assert setting(r.stdout, "log_level") == "error"
    assert setting(r.stdout, "root") == str(tmp_path / "root")


def head(tmp_path):
    """Three valid lines, so that a bad setting after them is on line 4."""
    return (f'root = "{tmp_path}/root";\n'
            f'runroot = "{tmp_path}/run";\n'
            f'listen = "{tmp_path}/run/ocid.sock";\n')


@pytest.mark.parametrize("bad_line,key", [
    ("no_such_key = 1;", "no_such_key"),
    ("log_level = 5;", "log_level"),
    ('log_level = "loud";', "log_level"),
    ('conmon = ["/usr/bin/conmon"];', "conmon"),
    ('conmon = "bin/conmon";', "conmon"),
], ids=["unknown-key", "wrong-type", "bad-value", "list-for-string",
        "relative-path"])
def test_bad_config(tmp_path, bad_line, key):
    conf = write_conf(tmp_path, head(tmp_path) + bad_line + "\n")
    r = run_ocid("--config", conf, "check")
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert f"{conf}:4: {key}" in r.stderr, r.stderr


def test_bad_module_option(tmp_path):
    conf = write_conf(tmp_path, head(tmp_path) + "modules = {\n  net-cni = {\n"
                      "    no_such_option = true;\n  };\n};\n")
    r = run_ocid("--config", conf, "check")
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert f"{conf}:6:" in r.stderr and "no_such_option" in r.stderr, r.stderr


def test_syntax_error_names_file_and_line(tmp_path):
    conf = write_conf(tmp_path, head(tmp_path) + "log_level = ;\n")
    r = run_ocid("--config", conf, "check")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert f"{conf}:4:" in r.stderr, r.stderr


def test_bad_dropin_is_named(tmp_path):
    conf = write_conf(tmp_path, head(tmp_path))
    drop = write_conf(tmp_path, '\nlog_level = 5;\n', "crio.conf.d/50-bad.conf")
    r = run_ocid("--config", conf, "check")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert f"{drop}:2: log_level" in r.stderr, r.stderr


def test_daemon_refuses_a_bad_config(tmp_path):
    conf = write_conf(tmp_path, head(tmp_path) + "no_such_key = 1;\n")
    r = run_ocid("--config", conf, timeout=20)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert f"{conf}:4: no_such_key" in r.stderr, r.stderr


def test_missing_config_file(tmp_path):
    r = run_ocid("--config", tmp_path / "nope.conf", "check")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert str(tmp_path / "nope.conf") in r.stderr
