import pytest

from gateway import config
from gateway.errors import ConfigError
from tests.helpers import write_config


def problems_for(tmp_path, **sections) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config.load(write_config(tmp_path, **sections))
    return caught.value.problems


def test_the_example_config_loads_with_no_secret_line_and_no_warning():
    settings = config.load("gateway.ini.example")
    assert settings.domain == "surgery.example.org"
    assert settings.smtp_listen == ("127.0.0.1", 8025)
    assert settings.relay_host == ""
    assert settings.default_team.key == "hightown"
    assert settings.default_team.postcodes == ("LL13 7", "LL13 8")
    assert settings.max_message_bytes == 10485760
    assert settings.warnings == ()
    assert settings.keyring.given == "" and settings.keyring.file.name == "gateway.secret"


def test_relative_paths_are_taken_from_the_config_files_folder(tmp_path):
    settings = config.load(write_config(tmp_path))
    assert settings.spool == tmp_path / "var" / "outbox"
    assert settings.database == f"sqlite:///{tmp_path}/var/gateway.db"


def test_every_problem_names_its_section_and_key(tmp_path):
    problems = problems_for(
        tmp_path,
        gateway={"domain": "not a domain", "secret": "short", "reference_prefix": "srg!"},
        smtp={"listen": "localhost", "max_message_bytes": "ten"},
        relay={"port": "99999", "retry_delays": "soon"},
        team__hightown={"mailbox": "nobody", "postcodes": "LL13 7, nowhere"},
    )
    joined = "\n".join(problems)
    for expected in ("[gateway] domain:", "[gateway] secret: 5 bytes is too short", "[gateway] reference_prefix:",
                     "[smtp] listen:", "[smtp] max_message_bytes: 'ten' is not a whole number",
                     "[relay] port: must be from 1 to 65535, not 99999", "[relay] retry_delays:",
                     "[team:hightown] mailbox: 'nobody' is not an email address",
                     "[team:hightown] postcodes: 'NOWHERE'"):
        assert expected in joined, f"{expected!r} missing from:\n{joined}"


def test_exactly_one_default_team(tmp_path):
    problems = problems_for(tmp_path, team__rhosddu={"default": "yes"})
    assert problems == ["[team:*] default: exactly one team must have default = yes "
                        "([team:hightown], [team:rhosddu] has it)"]


def test_unknown_keys_and_sections_are_named(tmp_path):
    problems = problems_for(tmp_path, gateway={"domian": "x.org"}, smtpd={"listen": "1"})
    assert "[gateway] domian: unknown key (did you mean domain?)" in problems
    assert any(p.startswith("[smtpd]: unknown section") for p in problems)


def test_team_address_must_be_in_our_domain_and_unique(tmp_path):
    problems = problems_for(tmp_path, team__hightown={"address": "hightown@elsewhere.example"})
    assert "[team:hightown] address: must be in the gateway's domain surgery.example.org" in problems
    problems = problems_for(tmp_path, team__rhosddu={"address": "hightown@surgery.example.org"})
    assert any(p.startswith("[team:rhosddu] address: hightown@surgery.example.org is already used") for p in problems)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        config.load(tmp_path / "absent.ini")
    assert "cannot read config file" in caught.value.problems[0]


def test_the_example_config_documents_every_key():
    import re
    from pathlib import Path

    example = (Path(__file__).resolve().parents[3] / "gateway.ini.example").read_text()
    documented: dict[str, set[str]] = {}
    section = None
    for line in example.splitlines():
        line = line.lstrip(";").strip()
        if m := re.fullmatch(r"\[(\w+)(?::\w+)?\]", line):
            whole = line[1:-1]   # a fixed keyed section ([relay:bulletins]) has keys of its own
            section = whole if whole in config.KNOWN_KEYS else m.group(1)
        elif section and (m := re.match(r"(\w+)\s*=", line)):
            documented.setdefault(section, set()).add(m.group(1))
    for section, keys in config.KNOWN_KEYS.items():
        assert keys <= documented.get(section, set()), (section, keys - documented.get(section, set()))


def test_an_in_memory_database_is_refused_with_the_reason(tmp_path):
    problem, = problems_for(tmp_path, gateway={"database": "sqlite:///:memory:"})
    assert problem.startswith("[gateway] database: sqlite:///:memory: would be a separate, empty database")
    settings = config.load(write_config(tmp_path, smtp={"in_flow_delay": "0", "in_flow_backlog": "500"}))
    assert (settings.in_flow_delay, settings.in_flow_backlog) == (0.0, 500)
    assert "[smtp] in_flow_backlog:" in "\n".join(problems_for(tmp_path, smtp={"in_flow_backlog": "0"}))


def test_a_postgresql_url_with_a_password_or_no_database_is_refused(tmp_path):
    problem, = problems_for(tmp_path, gateway={"database": "postgresql://gw:s3cret@db.example/gateway"})
    assert problem.startswith("[gateway] database: the URL holds a password") and "passfile" in problem
    assert "s3cret" not in problem
    problem, = problems_for(tmp_path, gateway={"database": "postgresql://gw@db.example"})
    assert "must name a host and a database" in problem
    settings = config.load(write_config(tmp_path, gateway={"database": "postgresql://gw@db.example:5432/gateway?passfile=/etc/gw/pgpass"}))
    assert settings.database.endswith("?passfile=/etc/gw/pgpass")


def test_retention_and_log_keys_are_read_and_checked(tmp_path):
    from gateway.config import Retention

    settings = config.load(write_config(tmp_path))
    assert settings.retention == Retention(24, 30, 90, 30)
    assert (settings.log_format, settings.log_addresses) == ("text", "hash")
    path = write_config(tmp_path, retention={"closed_case_months": "0", "bounce_days": "7"},
                        gateway={"log_format": "JSON", "log_addresses": "full"})
    settings = config.load(path)
    assert settings.retention.closed_case_months == 0 and settings.retention.bounce_days == 7
    assert (settings.log_format, settings.log_addresses) == ("json", "full")
    bad = write_config(tmp_path, retention={"quarantine_days": "soon"}, gateway={"log_format": "xml",
                                                                                 "log_addresses": "some"})
    with pytest.raises(ConfigError) as problems:
        config.load(bad)
    assert "[retention] quarantine_days: 'soon' is not a whole number" in problems.value.problems
    assert "[gateway] log_format: must be text or json" in problems.value.problems
    assert "[gateway] log_addresses: must be full, hash or none" in problems.value.problems


def test_a_reload_changes_what_it_may_in_place_and_names_what_needs_a_restart(tmp_path):
    old = config.load(write_config(tmp_path))
    team = old.teams[0]
    new = config.load(write_config(tmp_path, limits={"acks_per_hour": "7"}, smtp={"listen": "127.0.0.1:2525"},
                                   team__hightown={"officers": "pc.new@police.example"}))
    changed, restart = config.reload_changes(old, new)
    assert set(changed) == {"acks_per_hour", "teams"} and restart == ["smtp_listen"]
    assert config.apply_reload(old, new) == changed
    assert old.acks_per_hour == 7 and old.teams[0].officers == ("pc.new@police.example",) and team.officers != ()
    assert old.smtp_listen is None   # kept as the daemon started


def test_the_imap_password_comes_from_systemds_credentials_folder_first(tmp_path, monkeypatch):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "imap-password").write_text("from-systemd\n")
    (tmp_path / "imap-password").write_text("beside-the-config\n")
    path = write_config(tmp_path, imap={"host": "imap.example.org", "username": "surgery",
                                        "password_file": "imap-password"})
    assert config.load(path).imap.password == "beside-the-config"
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    assert config.load(path).imap.password == "from-systemd"


def test_the_doors_limits_are_read_and_checked(tmp_path):
    settings = config.load(write_config(tmp_path))
    assert (settings.max_connections, settings.max_connections_per_client, settings.idle_timeout) == (500, 20, 60.0)
    settings = config.load(write_config(tmp_path, smtp={"max_connections": "50", "max_connections_per_client": "5",
                                                        "idle_timeout_seconds": "2.5"}))
    assert (settings.max_connections, settings.max_connections_per_client, settings.idle_timeout) == (50, 5, 2.5)
    problems = problems_for(tmp_path, smtp={"max_connections": "0", "max_connections_per_client": "many",
                                            "idle_timeout_seconds": "0"})
    assert problems == ["[smtp] max_connections: must be from 1 to 100000, not 0",
                        "[smtp] max_connections_per_client: 'many' is not a whole number",
                        "[smtp] idle_timeout_seconds: must be from 1 to 3600, not 0"]
