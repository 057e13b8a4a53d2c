"""The simulated partner's AS2, against the hub's own AS2 code on 127.0.0.1 (no broker): the
station takes what the hub's ``as2`` sender posts — decrypted with the partner's key, the hub's
signature verified — and answers the signed MDN the sender checks; a message it cannot verify
gets a negative MDN and is not taken. The answers go to the hub's ``/as2`` (the API server of
tests/as2), stored on the hub's signed MDN; one the hub refuses is an error saying why."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from hub.partners import PartnerRegistry
from hub.simulator.as2_station import As2Station, As2ToHub, partner_side
from hub.simulator.channels import ChannelError
from hub.store import Message
from tests.as2.conftest import HUB_AS2, As2Env, as2_env, free_port  # noqa: F401 - fixture
from tests.as2.test_as2_inbound import x12_855
from tests.as2.test_as2_outbound import payload, sender

pytestmark = pytest.mark.postgres


@pytest.fixture
def side(as2_env: As2Env, monkeypatch: pytest.MonkeyPatch):  # noqa: F811
    """The simulator playing P-AS2 (ACME-AS2; or P-ASYNC): the partner's key, the hub's certificate."""
    monkeypatch.setenv("HUB_SIMULATOR_AS2_KEY", str(as2_env.partner_key))
    monkeypatch.setenv("HUB_AS2_CERTIFICATE", str(as2_env.hub_crt))
    monkeypatch.setenv("HUB_AS2_ID", HUB_AS2)
    return lambda partner="P-AS2": partner_side(as2_env.hub, PartnerRegistry(as2_env.hub.db).by_id(partner))


def test_the_station_takes_what_the_hubs_sender_posts_and_answers_a_signed_mdn(as2_env: As2Env, side,  # noqa: F811
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    station = As2Station(f"http://127.0.0.1:{free_port()}/as2", side())
    try:
        sent = payload(b"ISA*00*THE-ORDER~")
        result = sender(as2_env, station.url).send(sent)
        assert result.outcome == "delivered", result.summary()
        assert "signed MDN processed" in result.response and "matched" in result.response
        assert station.take() == [("purchase_order-PO-77.x12", b"ISA*00*THE-ORDER~")]
        again = sender(as2_env, station.url).send(sent)  # the hub's retry: the same Message-ID
        assert again.outcome == "delivered" and station.take() == []  # answered again, not taken twice
    finally:
        station.close()
    # A station that trusts another certificate for the hub cannot verify the signature.
    monkeypatch.setenv("HUB_AS2_CERTIFICATE", str(as2_env.old_crt))
    wary = As2Station(f"http://127.0.0.1:{free_port()}/as2", side())
    try:
        refused = sender(as2_env, wary.url).send(payload())
        assert refused.outcome == "reject" and "negative MDN: processed/Error" in refused.summary()
        assert wary.take() == [] and "AS2 <" in wary.refusals()[0]
    finally:
        wary.close()


def test_answers_posted_to_the_hubs_as2_are_stored_on_its_signed_mdn(as2_env: As2Env, side) -> None:  # noqa: F811
    answers = As2ToHub(f"{as2_env.base}/as2", side())
    where = answers.put("ACMEAS2-855-000000501.x12", x12_855(control="000000501"))
    assert where.startswith(f"{as2_env.base}/as2 (AS2 <") and where.endswith("signed MDN processed)")
    with as2_env.hub.db.read() as session:
        stored = session.execute(select(Message.sender, Message.channel, Message.doctype).where(
            Message.filename == "ACMEAS2-855-000000501.x12")).one()
    assert tuple(stored) == ("ACMEAS2", "as2", "855")
    # Another partner's envelope inside ACME-AS2's message: the hub's negative MDN, said.
    with pytest.raises(ChannelError, match=r"the hub's MDN for other\.x12 .* says processed/Error"):
        answers.put("other.x12", x12_855(sender="OLDCO", control="000000502"))


def test_what_the_partner_side_needs_is_named(as2_env: As2Env, side, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
                                             tmp_path: Path) -> None:
    monkeypatch.delenv("HUB_SIMULATOR_AS2_KEY")
    with pytest.raises(ChannelError, match="set HUB_SIMULATOR_AS2_KEY to the file of the partner's AS2 private key"):
        side()
    monkeypatch.setenv("HUB_SIMULATOR_AS2_KEY", str(tmp_path / "missing.key"))
    with pytest.raises(ChannelError, match=r"HUB_SIMULATOR_AS2_KEY .*missing\.key: No such file"):
        side()
    monkeypatch.setenv("HUB_AS2_CERTIFICATE", str(tmp_path / "no-hub.crt"))
    with pytest.raises(ChannelError, match=r"HUB_AS2_CERTIFICATE: certificate file .*no-hub\.crt: No such file"):
        side()
    monkeypatch.setenv("HUB_AS2_CERTIFICATE", str(as2_env.hub_crt))
    (tmp_path / "not-a-key.pem").write_text("hello\n")
    monkeypatch.setenv("HUB_SIMULATOR_AS2_KEY", str(tmp_path / "not-a-key.pem"))
    with pytest.raises(ChannelError, match=r"not-a-key\.pem: .*a PEM private key matching"):
        side()


def test_an_asynchronous_mdn_is_posted_to_the_hub_and_settles_the_delivery(as2_env: As2Env, side) -> None:  # noqa: F811
    station = As2Station(f"http://127.0.0.1:{free_port()}/as2", side("P-ASYNC"))
    try:
        result = sender(as2_env, station.url, partner="P-ASYNC").send(payload(b"ISA*00*ASYNC-ORDER~"))
        assert result.outcome == "delivered", result.summary()  # the MDN came to the hub's /as2 and matched
        assert "MDN processed" in result.response and station.take()[0][1] == b"ISA*00*ASYNC-ORDER~"
    finally:
        station.close()
