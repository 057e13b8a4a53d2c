"""Small X12 builders for tests: interchanges written out in full so each test shows its input."""

from __future__ import annotations


def isa(control: str = "000000001", *, sep: str = "*", comp: str = ">", rep: str = "U", version: str = "00401",
        sender: str = "SUPPLIER", receiver: str = "HOSPITAL", ack: str = "0", usage: str = "P") -> str:
    return sep.join(["ISA", "00", " " * 10, "00", " " * 10, "ZZ", sender.ljust(15), "ZZ", receiver.ljust(15),
                     "240115", "1200", rep, version, control, ack, usage, comp])


def interchange(sets: list[tuple[str, list[str]]], *, functional_id: str = "PO", control: str = "000000001",
                gs_control: str = "1", version: str = "004010", term: str = "~\n", **isa_kw: str) -> bytes:
    """An interchange with one group; each set is (ST01, body segments without ST/SE)."""
    lines = [isa(control, **isa_kw), f"GS*{functional_id}*SUPPLIER*HOSPITAL*20240115*1200*{gs_control}*X*{version}"]
    for n, (set_id, body) in enumerate(sets, start=1):
        st = f"{n:04d}"
        lines += [f"ST*{set_id}*{st}", *body, f"SE*{len(body) + 2}*{st}"]
    lines += [f"GE*{len(sets)}*{gs_control}", f"IEA*1*{control}"]
    return ("".join(line + term for line in lines)).encode()


PO_850 = [
    "BEG*00*SA*PO-1001**20240115",
    "CUR*BY*USD",
    "N1*BY*General Hospital*UL*0614141000012",
    "N1*ST*Central Receiving*92*778812",
    "N3*100 Main St",
    "N4*Springfield*IL*62701*US",
    "N1*SU*Acme Medical*92*ACME",
    "PO1*1*2*BX*45.10*PE*VP*12345*BP*778899*UK*00612345678907",
    "PID*F****Suture kit",
    "PO1*2*10*EA*1.25**VP*555*N4*00409-4888-01",
    "CTT*2",
]

ACK_855 = [
    "BAK*00*AC*4500012345*20260305****SO-88231*20260306",
    "CUR*SE*USD",
    "N1*ST*GENERAL HOSPITAL CENTRAL RECEIVING*UL*0614141999996",
    "N1*SU*ACME MEDICAL DISTRIBUTION*UL*0614141000029",
    "PO1*1*12*BX*86.40*PE*VP*SUT-4-0-PGA*UK*10614141123459",
    "ACK*IA*12*BX*068*20260312",
    "CTT*1",
]
