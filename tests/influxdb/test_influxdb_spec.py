"""InfluxRetentionSpec: stack config keys, defaults, and validation messages that name the key."""

from __future__ import annotations

import pytest
from tests.influxdb.influx_harness import make_spec
from pydantic import ValidationError

from monitoring.influxdb import InfluxRetentionSpec, format_influx_duration, influx_duration_seconds


def test_spec_reads_camel_case_stack_keys_and_snake_case_names_alike():
    by_alias = make_spec()
    by_name = InfluxRetentionSpec(raw_retention="30d", five_minute_retention="365d", one_hour_retention="1825d")
    assert by_alias == by_name


def test_database_defaults_to_prometheus():
    assert make_spec().database == "prometheus"


def test_spec_is_frozen():
    with pytest.raises(ValidationError):
        make_spec().raw_retention = "7d"  # type: ignore[misc]


def test_unknown_key_is_rejected():
    with pytest.raises(ValidationError, match="rawRetentoin"):
        make_spec(rawRetentoin="30d")


def test_every_field_has_a_description():
    assert all(field.description for field in InfluxRetentionSpec.model_fields.values())


def test_retention_shorter_than_an_hour_names_the_key_and_influx_minimum():
    with pytest.raises(ValidationError) as info:
        make_spec(rawRetention="10m")
    assert "Value error, rawRetention: '10m' is shorter than 1h (InfluxDB's minimum)" in str(info.value)


def test_year_unit_is_rejected_with_a_hint():
    with pytest.raises(ValidationError, match=r"Value error, oneHourRetention: '5y' .*no year unit"):
        make_spec(oneHourRetention="5y")


def test_upper_case_unit_is_rejected_naming_the_key():
    with pytest.raises(ValidationError, match=r"Value error, fiveMinuteRetention: '365D' is not an InfluxQL duration"):
        make_spec(fiveMinuteRetention="365D")


def test_five_minute_tier_must_outlive_raw():
    with pytest.raises(ValidationError, match=r"Value error, fiveMinuteRetention: '30d' must be longer than rawRetention '30d'"):
        make_spec(fiveMinuteRetention="30d")


def test_one_hour_tier_must_outlive_five_minute_tier():
    with pytest.raises(ValidationError, match=r"Value error, oneHourRetention: '52w' must be longer than fiveMinuteRetention '365d'"):
        make_spec(oneHourRetention="52w")


def test_inf_is_allowed_for_the_one_hour_tier():
    assert make_spec(oneHourRetention="INF").one_hour_retention == "INF"


def test_inf_below_the_last_tier_breaks_the_ordering():
    with pytest.raises(ValidationError, match=r"Value error, oneHourRetention: '1825d' must be longer than fiveMinuteRetention 'INF'"):
        make_spec(fiveMinuteRetention="INF")


def test_lower_case_inf_is_rejected_with_a_hint():
    with pytest.raises(ValidationError, match="INF in capitals"):
        make_spec(oneHourRetention="inf")


def test_database_name_must_be_a_plain_identifier():
    with pytest.raises(ValidationError, match=r"Value error, database: 'prom\"; DROP' must be letters"):
        make_spec(database='prom"; DROP')


@pytest.mark.parametrize(("text", "seconds"), [("1h", 3600), ("30d", 30 * 86400), ("52w", 364 * 86400), ("1d12h", 129600)])
def test_influx_durations_parse_to_seconds(text, seconds):
    assert influx_duration_seconds(text) == seconds


@pytest.mark.parametrize(("seconds", "text"), [(3600, "1h"), (364 * 86400, "364d"), (129600, "1d12h"), (float("inf"), "INF")])
def test_durations_format_canonically(seconds, text):
    assert format_influx_duration(seconds) == text
