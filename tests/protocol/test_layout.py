"""BitLayout / StructColumns: the fast paths agree with construct's own parse of the same declaration."""

from __future__ import annotations

import construct as c
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from protocol.errors import ProtocolError, RemoteProtocolError, TruncatedError, construct_errors
from protocol.layout import BitLayout, StructColumns


@st.composite
def bitstructs(draw: st.DrawFn) -> c.Construct:
    widths = draw(st.lists(st.integers(1, 13), min_size=1, max_size=8))
    pad = (-sum(widths)) % 8
    fields = [f"f{i}" / c.BitsInteger(w) for i, w in enumerate(widths)]
    if pad:
        fields.append(c.Padding(pad))
    return c.BitStruct(*fields)


@settings(max_examples=80, deadline=None)
@given(bitstructs(), st.data())
def test_bitlayout_matches_construct(bs: c.Construct, data: st.DataObject) -> None:
    layout = BitLayout(bs)
    assert layout.size == bs.sizeof()
    rows = [data.draw(st.binary(min_size=layout.size, max_size=layout.size)) for _ in range(5)]
    # construct's Padding insists on zero bits when parsing? No: it skips them. Compare named fields.
    cols = layout.columns(np.frombuffer(b"".join(rows), np.uint8).reshape(5, layout.size))
    for k, raw in enumerate(rows):
        ref = bs.parse(raw)
        values = layout.unpack(raw)
        for f, v in zip(layout.fields, values):
            assert ref[f.name] == v
            assert int(cols[f.name][k]) == v
        rebuilt = layout.pack(**{f.name: v for f, v in zip(layout.fields, values)})
        assert bs.parse(rebuilt) == ref


def test_bitlayout_constants_flags_enums() -> None:
    bs = c.BitStruct("v" / c.Const(1, c.BitsInteger(2)), "f" / c.Flag, "e" / c.Enum(c.BitsInteger(5), A=3))
    layout = BitLayout(bs)
    assert [(f.name, f.shift, f.width, f.const) for f in layout.fields] == [
        ("v", 6, 2, 1), ("f", 5, 1, None), ("e", 0, 5, None)]
    assert layout.pack(f=1, e=3) == bs.build(dict(f=True, e="A"))


def test_struct_columns_odd_widths_and_arrays() -> None:
    s = c.Struct("a" / c.Int24sb, "b" / c.Array(2, c.Int16ul), "c" / c.Bytes(3),
                 "d" / c.BitStruct("x" / c.BitsInteger(3), "y" / c.BitsInteger(5)), "e" / c.Float64b)
    values = [dict(a=-5, b=[1, 65535], c=b"xyz", d=dict(x=5, y=17), e=1.5),
              dict(a=8388607, b=[7, 8], c=b"\x00\x01\x02", d=dict(x=0, y=31), e=-2.25)]
    blob = b"".join(s.build(v) for v in values)
    rows = np.frombuffer(blob, np.uint8).reshape(2, -1)
    cols = StructColumns(s).decode(rows)
    assert list(cols["a"]) == [-5, 8388607]
    assert cols["b"].tolist() == [[1, 65535], [7, 8]]
    assert list(cols["c"]) == [b"xyz", b"\x00\x01\x02"]
    assert list(cols["d.x"]) == [5, 0] and list(cols["d.y"]) == [17, 31]
    assert list(cols["e"]) == [1.5, -2.25]
    direct = StructColumns(s).decode(rows, records=np.frombuffer(blob, np.uint8))
    assert list(direct["e"]) == [1.5, -2.25] and direct["b"].tolist() == [[1, 65535], [7, 8]]


def test_construct_errors_are_rewrapped_with_from() -> None:
    s = c.Struct("magic" / c.Const(b"AB"), "n" / c.Int16ub)
    with pytest.raises(RemoteProtocolError) as e:
        with construct_errors("test layer", offset=12):
            s.parse(b"XY\x00\x01")
    assert e.value.offset == 12 and "magic" in str(e.value) and isinstance(e.value.__cause__, c.ConstructError)
    with pytest.raises(TruncatedError):
        with construct_errors("test layer"):
            s.parse(b"AB\x00")
    assert issubclass(TruncatedError, ProtocolError)
