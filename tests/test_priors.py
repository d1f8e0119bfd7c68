"""ROAS priors a tenant's team states in a YAML file: read, checked, turned into the MMM's log-normal priors."""

import numpy as np
import pytest

from weather_mmm.models.priors import (DEFAULT_ROAS_PRIOR, PriorsError, fingerprints, interval, log_normal, read_priors,
                                       roas_prior, stated_tenants)


def test_a_stated_interval_becomes_the_log_normal_whose_central_90_percent_it_is(tmp_path):
    path = tmp_path / "mmm_priors.yaml"
    path.write_text("acme:\n  roas:\n    email: [2, 12]   # between 2 and 12, 9 times in 10\n    meta: [0.5, 3.0]\n"
                    "globex:\n  roas: {google: [1, 4]}\n")
    stated = read_priors(path, "acme")
    assert stated == {"email": (2.0, 12.0), "meta": (0.5, 3.0)}
    loc, scale = log_normal(stated["email"])
    assert np.exp(loc) == pytest.approx(np.sqrt(24)) and interval((loc, scale)) == pytest.approx((2.0, 12.0))
    rng = np.random.default_rng(0)  # the draws' own 5 % and 95 % quantiles
    assert np.percentile(np.exp(rng.normal(loc, scale, 200_000)), [5, 95]) == pytest.approx([2.0, 12.0], rel=0.01)
    prior = roas_prior(["meta", "google", "email"], stated, "acme")
    assert prior.shape == (3, 2) and tuple(prior[1]) == pytest.approx(DEFAULT_ROAS_PRIOR)  # google: not stated
    assert interval(DEFAULT_ROAS_PRIOR) == pytest.approx((0.75, 5.4), abs=0.05)  # the default, as documented (0.745, 5.37)
    assert read_priors(path, "initech") == {} and read_priors(tmp_path / "none.yaml", "acme") == {}
    assert stated_tenants(path) == ["acme", "globex"] and stated_tenants(tmp_path / "none.yaml") == []
    # only a change to a tenant's own entry changes its fingerprint (and makes its MMM stale)
    before = fingerprints(path)
    assert before["acme"] and before["globex"] and before["acme"] != before["globex"]
    path.write_text("globex:\n  roas: {google: [1, 5]}\nacme:\n  roas: {meta: [0.5, 3], email: [2.0, 12]}\n")
    after = fingerprints(path)
    assert after["acme"] == before["acme"] and after["globex"] != before["globex"]


@pytest.mark.parametrize("entry, message", [
    ("  roas: {email: [12, 2]}", "acme.roas.email is [12, 2]; low must be below high"),
    ("  roas: {email: [0, 2]}", "acme.roas.email is 0; it must be above 0"),
    ("  roas: {email: 3}", "acme.roas.email is 3; the 90 % interval of its ROAS, [low, high], is expected"),
    ("  roas: {email: [1, two]}", "acme.roas.email is 'two'; a number is expected"),
    ("  roi: {email: [1, 2]}", "acme: unknown field(s) roi; fields are roas"),
    ("  roas: [1, 2]", "acme.roas is [1, 2]; a mapping channel -> [low, high]"),
])
def test_a_mistake_in_the_file_is_refused_naming_the_file_tenant_channel_and_field(tmp_path, entry, message):
    path = tmp_path / "mmm_priors.yaml"
    path.write_text(f"acme:\n{entry}\nglobex:\n  roas: {{google: [1, 4]}}\n")
    with pytest.raises(PriorsError) as error:
        read_priors(path, "acme")
    assert str(error.value) == f"{path}: {message}" or str(error.value).startswith(f"{path}: {message}")
    assert read_priors(path, "globex") == {"google": (1.0, 4.0)}  # another tenant's entry still reads
    assert fingerprints(path)["acme"].startswith(f"invalid: {path}: acme")
    path.write_text("acme: [\n")
    with pytest.raises(PriorsError, match="not YAML"):
        read_priors(path, "acme")


def test_a_prior_for_a_channel_the_tenant_does_not_advertise_on_is_refused():
    with pytest.raises(PriorsError, match=r"^priors.yaml: acme: ROAS prior for channel\(s\) tv, which the tenant does not "
                                          r"advertise on; its channels are meta, google, email$"):
        roas_prior(["meta", "google", "email"], {"tv": (1.0, 2.0), "meta": (1.0, 2.0)}, "priors.yaml: acme")
