"""DDEX ERN 4.3 NewReleaseMessage: the release, its sound recording, its cover image and the
technical details of every delivered file, without deals (the distributor adds those).

The message is built from dataclasses (`NewReleaseMessage`), written with ElementTree and read
back (`from_xml`) into the same dataclasses, so `check` can prove that what was written is
well-formed and says exactly what it was built from. Element order follows the ERN 4.3
sequences (MessageHeader, PartyList, ResourceList, ReleaseList); child elements are
unqualified, as the ERN schema's elementFormDefault says.

Without a DDEX Party ID (DPID) of the sender the message is marked `TestMessage`: a
distributor replaces the placeholder with their own before sending it on.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from tunesmith.errors import TunesmithError

ERN_NS = "http://ddex.net/xml/ern/43"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{ERN_NS} http://ddex.net/xml/ern/43/release-notification.xsd"
AVS_VERSION = "4"
PLACEHOLDER_DPID = "PADPIDA0000000000Z"  # not a registered party: replace before sending


class DdexError(TunesmithError):
    """The DDEX message could not be built or does not match what it was built from."""


@dataclass(frozen=True, slots=True)
class MessageParty:
    dpid: str
    name: str


@dataclass(frozen=True, slots=True)
class MessageHeader:
    message_id: str
    thread_id: str
    sender: MessageParty
    recipient: MessageParty
    created: str  # ISO 8601 date-time with zone
    control_type: str = "TestMessage"  # or "LiveMessage"


@dataclass(frozen=True, slots=True)
class Party:
    reference: str  # P...
    name: str


@dataclass(frozen=True, slots=True)
class DeliveryFile:
    """One file of a resource: its technical details and where it lies in the bundle."""

    reference: str  # T...
    uri: str  # path relative to the message
    sha256: str
    size_bytes: int
    codec: str  # AudioCodecType / ImageCodecType: PCM, FLAC, MP3, JPEG
    channels: int | None = None
    sample_rate_hz: int | None = None
    bits_per_sample: int | None = None
    bitrate_kbps: int | None = None
    width_px: int | None = None
    height_px: int | None = None
    description: str = ""  # e.g. "-14 LUFS (Spotify, YouTube)", kept as a comment only


@dataclass(frozen=True, slots=True)
class SoundRecording:
    reference: str  # A...
    title: str
    artist_reference: str
    artist_name: str
    duration_s: float
    pline_year: int
    pline_text: str
    isrc: str | None = None
    proprietary_id: str = ""
    files: tuple[DeliveryFile, ...] = ()
    instrumental: bool = True


@dataclass(frozen=True, slots=True)
class Image:
    reference: str
    proprietary_id: str
    file: DeliveryFile


@dataclass(frozen=True, slots=True)
class Release:
    reference: str  # R...
    title: str
    artist_reference: str
    artist_name: str
    genre: str
    duration_s: float
    pline_year: int
    pline_text: str
    cline_year: int
    cline_text: str
    release_date: str  # YYYY-MM-DD
    track_reference: str
    image_reference: str
    release_type: str = "Single"
    icpn: str | None = None
    proprietary_id: str = ""


@dataclass(frozen=True, slots=True)
class NewReleaseMessage:
    header: MessageHeader
    parties: tuple[Party, ...]
    recordings: tuple[SoundRecording, ...]
    images: tuple[Image, ...]
    releases: tuple[Release, ...]
    language: str = "en"
    proprietary_namespace: str = field(default="tunesmith")


def iso_duration(seconds: float) -> str:
    """153.4 -> 'PT2M33.400S' (ISO 8601, as DDEX Duration)."""
    total_ms = int(round(seconds * 1000))
    minutes, ms = divmod(total_ms, 60000)
    hours, minutes = divmod(minutes, 60)
    sec = ms / 1000
    text = f"{sec:.3f}".rstrip("0").rstrip(".")
    return "PT" + (f"{hours}H" if hours else "") + f"{minutes}M{text}S"


def parse_duration(text: str) -> float:
    m = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?", text)
    if not m:
        raise DdexError(f"not an ISO 8601 duration: {text!r}")
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return h * 3600 + mi * 60 + s


# ---------------------------------------------------------------- writing

def _sub(parent: ET.Element, tag: str, text: str | int | float | None = None,
         **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = str(text)
    return el


def _party_name(parent: ET.Element, tag: str, party: MessageParty) -> None:
    el = _sub(parent, tag)
    _sub(el, "PartyId", party.dpid)
    _sub(_sub(el, "PartyName"), "FullName", party.name)


def _display_artist(parent: ET.Element, name: str, reference: str) -> None:
    _sub(parent, "DisplayArtistName", name)
    da = _sub(parent, "DisplayArtist", SequenceNumber="1")
    _sub(da, "ArtistPartyReference", reference)
    _sub(da, "DisplayArtistRole", "MainArtist")


def _file(parent: ET.Element, f: DeliveryFile) -> None:
    el = _sub(parent, "File")
    _sub(el, "URI", f.uri)
    hs = _sub(el, "HashSum")
    _sub(hs, "Algorithm", "SHA256")
    _sub(hs, "HashSumValue", f.sha256)
    # kilobytes, as ERN says; size/1024 has at most 10 decimals, so this is exact
    _sub(el, "FileSize", f"{f.size_bytes / 1024:.10f}".rstrip("0").rstrip("."))


def _audio_details(parent: ET.Element, f: DeliveryFile) -> None:
    td = _sub(parent, "TechnicalDetails")
    if f.description:
        td.append(ET.Comment(f" {f.description} "))
    _sub(td, "TechnicalResourceDetailsReference", f.reference)
    df = _sub(td, "DeliveryFile")
    _sub(df, "Type", "AudioFile")
    _sub(df, "AudioCodecType", f.codec)
    if f.bitrate_kbps is not None:
        _sub(df, "BitRate", f.bitrate_kbps, UnitOfMeasure="kbps")
    if f.channels is not None:
        _sub(df, "NumberOfChannels", f.channels)
    if f.sample_rate_hz is not None:
        _sub(df, "SamplingRate", f.sample_rate_hz, UnitOfMeasure="Hz")
    if f.bits_per_sample is not None:
        _sub(df, "BitsPerSample", f.bits_per_sample)
    _file(df, f)


def _pline(parent: ET.Element, year: int, text: str, tag: str = "PLine") -> None:
    el = _sub(parent, tag)
    _sub(el, "Year", year)
    _sub(el, f"{tag}Text", text)


def to_xml(msg: NewReleaseMessage) -> bytes:
    ET.register_namespace("ern", ERN_NS)
    ET.register_namespace("xsi", XSI_NS)
    root = ET.Element(f"{{{ERN_NS}}}NewReleaseMessage", {
        f"{{{XSI_NS}}}schemaLocation": SCHEMA_LOCATION,
        "LanguageAndScriptCode": msg.language, "AvsVersionId": AVS_VERSION})
    h = _sub(root, "MessageHeader")
    _sub(h, "MessageThreadId", msg.header.thread_id)
    _sub(h, "MessageId", msg.header.message_id)
    _party_name(h, "MessageSender", msg.header.sender)
    _party_name(h, "MessageRecipient", msg.header.recipient)
    _sub(h, "MessageCreatedDateTime", msg.header.created)
    _sub(h, "MessageControlType", msg.header.control_type)

    plist = _sub(root, "PartyList")
    for p in msg.parties:
        pe = _sub(plist, "Party")
        _sub(pe, "PartyReference", p.reference)
        _sub(_sub(pe, "PartyName"), "FullName", p.name)

    rlist = _sub(root, "ResourceList")
    for sr in msg.recordings:
        se = _sub(rlist, "SoundRecording")
        _sub(se, "ResourceReference", sr.reference)
        _sub(se, "Type", "MusicalWorkSoundRecording")
        ed = _sub(se, "SoundRecordingEdition")
        rid = _sub(ed, "ResourceId")
        if sr.isrc:
            _sub(rid, "ISRC", sr.isrc)
        _sub(rid, "ProprietaryId", sr.proprietary_id, Namespace=msg.proprietary_namespace)
        _pline(ed, sr.pline_year, sr.pline_text)
        for f in sr.files:
            _audio_details(ed, f)
        _sub(se, "DisplayTitleText", sr.title)
        _sub(_sub(se, "DisplayTitle"), "TitleText", sr.title)
        _display_artist(se, sr.artist_name, sr.artist_reference)
        _sub(se, "Duration", iso_duration(sr.duration_s))
        _sub(se, "ParentalWarningType", "NotExplicit")
        _sub(se, "IsInstrumental", "true" if sr.instrumental else "false")
    for im in msg.images:
        ie = _sub(rlist, "Image")
        _sub(ie, "ResourceReference", im.reference)
        _sub(ie, "Type", "FrontCoverImage")
        _sub(_sub(ie, "ResourceId"), "ProprietaryId", im.proprietary_id,
             Namespace=msg.proprietary_namespace)
        _sub(ie, "ParentalWarningType", "NotExplicit")
        td = _sub(ie, "TechnicalDetails")
        _sub(td, "TechnicalResourceDetailsReference", im.file.reference)
        _sub(td, "ImageCodecType", im.file.codec)
        _sub(td, "ImageHeight", im.file.height_px, UnitOfMeasure="Pixel")
        _sub(td, "ImageWidth", im.file.width_px, UnitOfMeasure="Pixel")
        _file(td, im.file)

    relist = _sub(root, "ReleaseList")
    for r in msg.releases:
        re_ = _sub(relist, "Release")
        _sub(re_, "ReleaseReference", r.reference)
        _sub(re_, "ReleaseType", r.release_type)
        rid = _sub(re_, "ReleaseId")
        if r.icpn:
            _sub(rid, "ICPN", r.icpn)
        _sub(rid, "ProprietaryId", r.proprietary_id, Namespace=msg.proprietary_namespace)
        _sub(re_, "DisplayTitleText", r.title)
        _sub(_sub(re_, "DisplayTitle"), "TitleText", r.title)
        _display_artist(re_, r.artist_name, r.artist_reference)
        _pline(re_, r.pline_year, r.pline_text)
        _pline(re_, r.cline_year, r.cline_text, tag="CLine")
        _sub(re_, "Duration", iso_duration(r.duration_s))
        _sub(_sub(re_, "Genre"), "GenreText", r.genre)
        _sub(re_, "OriginalReleaseDate", r.release_date)
        _sub(re_, "ParentalWarningType", "NotExplicit")
        grp = _sub(re_, "ResourceGroup")
        inner = _sub(grp, "ResourceGroup")
        _sub(inner, "SequenceNumber", 1)
        item = _sub(inner, "ResourceGroupContentItem")
        _sub(item, "SequenceNumber", 1)
        _sub(item, "ReleaseResourceReference", r.track_reference)
        _sub(grp, "LinkedReleaseResourceReference", r.image_reference,
             LinkDescription="FrontCoverImage")
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


# ---------------------------------------------------------------- reading back

def _req(el: ET.Element, path: str) -> ET.Element:
    found = el.find(path)
    if found is None:
        raise DdexError(f"DDEX message lacks {path} under {el.tag}")
    return found


def _text(el: ET.Element, path: str) -> str:
    return (_req(el, path).text or "").strip()


def _opt(el: ET.Element, path: str) -> str | None:
    found = el.find(path)
    return None if found is None else (found.text or "").strip()


def _int(el: ET.Element, path: str) -> int | None:
    v = _opt(el, path)
    return None if v is None else int(v)


def _read_file(td: ET.Element, container: ET.Element) -> DeliveryFile:
    f = _req(container, "File")
    return DeliveryFile(
        reference=_text(td, "TechnicalResourceDetailsReference"), uri=_text(f, "URI"),
        sha256=_text(f, "HashSum/HashSumValue"),
        size_bytes=int(round(float(_text(f, "FileSize")) * 1024)),
        codec=_opt(container, "AudioCodecType") or _text(container, "ImageCodecType"),
        channels=_int(container, "NumberOfChannels"),
        sample_rate_hz=_int(container, "SamplingRate"),
        bits_per_sample=_int(container, "BitsPerSample"),
        bitrate_kbps=_int(container, "BitRate"), width_px=_int(container, "ImageWidth"),
        height_px=_int(container, "ImageHeight"))


def from_xml(data: bytes) -> NewReleaseMessage:
    """Parse a message written by `to_xml` back into its dataclasses (descriptions, which
    live in comments, come back empty)."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise DdexError(f"the DDEX message is not well-formed XML: {exc}") from exc
    if root.tag != f"{{{ERN_NS}}}NewReleaseMessage":
        raise DdexError(f"not an ERN 4.3 NewReleaseMessage: root element {root.tag}")
    h = _req(root, "MessageHeader")
    header = MessageHeader(
        message_id=_text(h, "MessageId"), thread_id=_text(h, "MessageThreadId"),
        sender=MessageParty(_text(h, "MessageSender/PartyId"),
                            _text(h, "MessageSender/PartyName/FullName")),
        recipient=MessageParty(_text(h, "MessageRecipient/PartyId"),
                               _text(h, "MessageRecipient/PartyName/FullName")),
        created=_text(h, "MessageCreatedDateTime"), control_type=_text(h, "MessageControlType"))
    parties = tuple(Party(_text(p, "PartyReference"), _text(p, "PartyName/FullName"))
                    for p in _req(root, "PartyList").findall("Party"))
    rlist = _req(root, "ResourceList")
    namespace = "tunesmith"
    recordings = []
    for se in rlist.findall("SoundRecording"):
        ed = _req(se, "SoundRecordingEdition")
        prop = ed.find("ResourceId/ProprietaryId")
        if prop is not None:
            namespace = prop.get("Namespace", namespace)
        files = tuple(_read_file(td, _req(td, "DeliveryFile"))
                      for td in ed.findall("TechnicalDetails"))
        recordings.append(SoundRecording(
            reference=_text(se, "ResourceReference"), title=_text(se, "DisplayTitleText"),
            artist_reference=_text(se, "DisplayArtist/ArtistPartyReference"),
            artist_name=_text(se, "DisplayArtistName"),
            duration_s=parse_duration(_text(se, "Duration")),
            pline_year=int(_text(ed, "PLine/Year")), pline_text=_text(ed, "PLine/PLineText"),
            isrc=_opt(ed, "ResourceId/ISRC"), proprietary_id=_opt(ed, "ResourceId/ProprietaryId") or "",
            files=files, instrumental=_text(se, "IsInstrumental") == "true"))
    images = []
    for ie in rlist.findall("Image"):
        td = _req(ie, "TechnicalDetails")
        images.append(Image(_text(ie, "ResourceReference"), _text(ie, "ResourceId/ProprietaryId"),
                            _read_file(td, td)))
    releases = []
    for r in _req(root, "ReleaseList").findall("Release"):
        releases.append(Release(
            reference=_text(r, "ReleaseReference"), title=_text(r, "DisplayTitleText"),
            artist_reference=_text(r, "DisplayArtist/ArtistPartyReference"),
            artist_name=_text(r, "DisplayArtistName"), genre=_text(r, "Genre/GenreText"),
            duration_s=parse_duration(_text(r, "Duration")),
            pline_year=int(_text(r, "PLine/Year")), pline_text=_text(r, "PLine/PLineText"),
            cline_year=int(_text(r, "CLine/Year")), cline_text=_text(r, "CLine/CLineText"),
            release_date=_text(r, "OriginalReleaseDate"),
            track_reference=_text(r, "ResourceGroup/ResourceGroup/ResourceGroupContentItem/ReleaseResourceReference"),
            image_reference=_text(r, "ResourceGroup/LinkedReleaseResourceReference"),
            release_type=_text(r, "ReleaseType"), icpn=_opt(r, "ReleaseId/ICPN"),
            proprietary_id=_opt(r, "ReleaseId/ProprietaryId") or ""))
    return NewReleaseMessage(header=header, parties=parties, recordings=tuple(recordings),
                             images=tuple(images), releases=tuple(releases),
                             language=root.get("LanguageAndScriptCode", ""),
                             proprietary_namespace=namespace)


def _without_descriptions(msg: NewReleaseMessage) -> NewReleaseMessage:
    from dataclasses import replace

    recs = tuple(replace(r, files=tuple(replace(f, description="") for f in r.files),
                         duration_s=round(r.duration_s, 3)) for r in msg.recordings)
    imgs = tuple(replace(i, file=replace(i.file, description="")) for i in msg.images)
    rels = tuple(replace(r, duration_s=round(r.duration_s, 3)) for r in msg.releases)
    return replace(msg, recordings=recs, images=imgs, releases=rels)


def _first_difference(a: object, b: object, where: str) -> str:
    from dataclasses import fields, is_dataclass

    if is_dataclass(a) and is_dataclass(b) and type(a) is type(b):
        for f in fields(a):
            d = _first_difference(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
            if d:
                return d
        return ""
    if isinstance(a, tuple) and isinstance(b, tuple):
        if len(a) != len(b):
            return f"{where}: {len(a)} items written, {len(b)} read back"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = _first_difference(x, y, f"{where}[{i}]")
            if d:
                return d
        return ""
    return "" if a == b else f"{where}: wrote {a!r}, read back {b!r}"


def check(data: bytes, msg: NewReleaseMessage) -> None:
    """Raise DdexError unless `data` is well-formed, references resolve, and it reads back
    into exactly `msg`."""
    back = from_xml(data)
    diff = _first_difference(_without_descriptions(msg), _without_descriptions(back), "message")
    if diff:
        raise DdexError(f"the DDEX message does not read back into the release it was built "
                        f"from: {diff}")
    parties = {p.reference for p in back.parties}
    resources = {r.reference for r in back.recordings} | {i.reference for i in back.images}
    refs = [r.reference for r in back.recordings] + [i.reference for i in back.images]
    if len(set(refs)) != len(refs):
        raise DdexError("two resources share one ResourceReference")
    for rec in back.recordings:
        if rec.artist_reference not in parties:
            raise DdexError(f"sound recording {rec.reference} names an unknown party")
    for rel in back.releases:
        if rel.artist_reference not in parties:
            raise DdexError(f"release {rel.reference} names an unknown party")
        if rel.track_reference not in resources or rel.image_reference not in resources:
            raise DdexError(f"release {rel.reference} points at a resource that is not listed")
