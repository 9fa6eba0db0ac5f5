"""SCTE-35 splice_info_sections for a VOD playlist's mid-rolls (`SCTE35-OUT` / `SCTE35-IN` on an EXT-X-DATERANGE,
RFC 8216 4.3.2.7.1), so broadcast tooling that reads cues sees the same breaks the players do. Only what that
needs is written: a `splice_insert` with no descriptors, unencrypted, times on the film's own clock (90 kHz from 0)."""

from __future__ import annotations

TICKS_PER_S = 90_000
_SPLICE_INSERT = 0x05
_PTS_MASK = (1 << 33) - 1


def _crc32_mpeg2(data: bytes) -> int:
    """CRC-32/MPEG-2 (polynomial 0x04C11DB7, not reflected, initial all ones), as the section's last field."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
    return crc


def _ticks(seconds: float) -> int:
    return round(seconds * TICKS_PER_S) & _PTS_MASK


def splice_insert(event_id: int, at_s: float, out_of_network: bool, break_s: float | None = None) -> bytes:
    """A splice_info_section holding one program-wide `splice_insert` at `at_s` of the film: out of the network
    (into the break, with its expected length and auto-return) or back in."""
    command = bytearray(event_id.to_bytes(4, "big"))
    command.append(0x7F)  # splice_event_cancel_indicator 0, reserved bits set
    has_duration = out_of_network and break_s is not None
    # out_of_network, program_splice, duration, splice_immediate 0, event_id_compliance 1, reserved 111
    command.append((out_of_network << 7) | (1 << 6) | (has_duration << 5) | 0x0F)
    command += _splice_time(at_s)
    if has_duration and break_s is not None:
        # break_auto_return 1, six reserved bits set, then 33 bits of duration
        command += ((1 << 39) | (0x3F << 33) | _ticks(break_s)).to_bytes(5, "big")
    command += (1).to_bytes(2, "big") + bytes([0, 0])  # unique_program_id 1, avail_num 0, avails_expected 0
    body = bytearray([0])  # protocol_version
    body += (0).to_bytes(5, "big")  # encrypted_packet 0, encryption_algorithm 0, pts_adjustment 0
    body.append(0)  # cw_index
    body += ((0xFFF << 12) | len(command)).to_bytes(3, "big")  # tier (all), splice_command_length
    body.append(_SPLICE_INSERT)
    body += command
    body += (0).to_bytes(2, "big")  # descriptor_loop_length
    section_length = len(body) + 4  # what follows the length field, CRC included
    # table_id 0xFC; section_syntax_indicator 0, private_indicator 0, sap_type 3 (not specified), section_length
    head = bytes([0xFC]) + ((0x3 << 12) | section_length).to_bytes(2, "big")
    section = head + bytes(body)
    return section + _crc32_mpeg2(section).to_bytes(4, "big")


def _splice_time(at_s: float) -> bytes:
    """splice_time(): time_specified_flag 1, six reserved bits set, 33 bits of PTS."""
    return ((1 << 39) | (0x3F << 33) | _ticks(at_s)).to_bytes(5, "big")
