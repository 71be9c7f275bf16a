"""tests/graph_property.py's strategies on their own (no apply): a mutation is one apply can make in one go."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph_property import graphs


@settings(max_examples=1500, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(data=st.data(), dialect=st.sampled_from(["v1", "v2"]))
def test_a_mutation_never_retypes_a_trunk_a_kept_campaign_goes_on_using(data, dialect):
    """A SIP trunk whose type changes is replaced, destroying first (its number is unique on the platform); a
    campaign that used it and still does is replaced too, creating first: a cycle apply refuses by design ("change
    them in separate applies"), which the e2e property test then reported as a failure now and then."""
    first = data.draw(graphs(dialect), label="first")
    second = data.draw(graphs(dialect, first), label="mutated")
    retyped = {address for address, spec in second.of("siptrunk").items()
               if address in first.objects and first.objects[address][1]["sip_trunk_type"] != spec["sip_trunk_type"]}
    for address, spec in second.of("campaign").items():
        before = first.objects.get(address)
        if before is not None:
            kept_using = retyped & set(before[1].get("phone_number_ids", [])) & set(spec.get("phone_number_ids", []))
            assert not kept_using, (address, kept_using)
