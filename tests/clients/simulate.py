#!/usr/bin/env python3
"""Real voice front-ends asking ttsaccel for speech, simulated (spec 3.5).

Five clients -- Open WebUI, SillyTavern, NextChat, LibreChat, LobeChat --
each modelled on its public code: how it cuts a finished chat reply into
speech requests, how it cleans the text first, and which fields it sends
to /v1/audio/speech.  Each model is our own Python, written from a reading
of that client's code; every function names the behaviour it models.
Besides the speak buttons, three modes ask while the reply streams:
openwebui-call (Open WebUI's call mode), sillytavern-para (SillyTavern
narrating by paragraph) and librechat-auto (LibreChat's automatic
playback, cutting wherever the stream is).

Usage:
  simulate.py --selftest
  simulate.py requests CLIENT FILE      print the bodies CLIENT would send
  simulate.py run --url URL --key KEY --tts-log FILE --json OUT
              [--speech-url URL] [--corpus DIR] [--clients a,b]
              [--deadline SECONDS] [--tts-url URL] [--every N]
      for every reply of the corpus: a streamed chat through the daemon
      (the fake upstream answers with the reply's text), wait until its
      segments are synthesised, then the client's speech requests in
      order; each is counted as answered without a new synthesis when
      the fake TTS's request log did not grow while it was served.
      --speech-url sends the speech requests to another instance than
      the chats (several instances sharing one Redis).  With --tts-url
      (the fake TTS), each answer is read back as the texts it is made
      of, and words lost and repeated are counted, ttsaccel's apart
      from the client's own (word_account); the requests then ask for
      WAV whatever the client's format, to be read back exactly.
  simulate.py report [--min-rate R] [--json OUT] RESULT.json...
      the per-client table; with --min-rate, exit 1 when a client is
      below it.
  simulate.py case --url URL --key KEY --tts-log FILE CASE.json
      one behaviour of tests/clients/cases/: its replies chatted, its
      client's requests for the last one checked (see cmd_case).

Standard library only.
"""

import argparse
import html
import json
import os
import random
import re
import sys
import time
import unicodedata
import urllib.error
import urllib.request
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = ["openwebui", "sillytavern", "nextchat", "librechat", "lobechat",
           "openwebui-call", "sillytavern-para", "librechat-auto"]
TITLES = {
    "openwebui": "Open WebUI",
    "sillytavern": "SillyTavern",
    "nextchat": "NextChat",
    "librechat": "LibreChat",
    "lobechat": "LobeChat",
    "openwebui-call": "Open WebUI call",
    "sillytavern-para": "SillyTavern para",
    "librechat-auto": "LibreChat auto",
}


# ---------------------------------------------------------------------------
# Helpers shared by the models.

def js_len(s):
    """String.prototype.length: UTF-16 code units, as the clients count."""
    return len(s.encode("utf-16-le")) // 2


def js_split_ws_count(s):
    """text.split(/\\s+/).length in JavaScript (an empty string counts 1)."""
    return len(re.split(r"\s+", s))


def _is_emoji_cp(cp):
    return (0x1F000 <= cp <= 0x1FAFF or 0x2600 <= cp <= 0x27BF or
            0x2300 <= cp <= 0x23FF or 0x2B05 <= cp <= 0x2B55 or
            0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F or
            cp in (0x3030, 0x303D, 0x3297, 0x3299))


def remove_rgi_emoji(s):
    """Models Open WebUI's removeEmojis: str.replace(/\\p{RGI_Emoji}/gv, '').

    The standard library has no emoji property: pictographic code points
    and the joiners and modifiers that bind them are removed."""
    out = []
    prev_emoji = False
    for ch in s:
        cp = ord(ch)
        if _is_emoji_cp(cp):
            prev_emoji = True
            continue
        if cp in (0xFE0F, 0x20E3) or (cp == 0x200D and prev_emoji):
            continue
        prev_emoji = False
        out.append(ch)
    return "".join(out)


# ---------------------------------------------------------------------------
# markdown-to-txt (the npm package NextChat and LobeChat use): marked's
# lexer with a renderer that prints text.  Blocks end with "\n\n", list
# items and table rows with "\n", table cells with " "; code blocks and
# inline code keep their text; links and images keep their text; HTML is
# dropped; the result is trimmed.  A model of the usual Markdown of LLM
# replies, not a full CommonMark parser (nested lists are flattened).

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_HR = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_QUOTE = re.compile(r"^ {0,3}> ?(.*)$")
_ITEM = re.compile(r"^(\s*)([-*+]|\d{1,9}[.)])(?:[ \t]+(.*)|$)")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def _md_inline(s):
    """marked's inline renderer of markdown-to-txt: marks dropped, text kept."""
    spans = []

    def keep(m):
        spans.append(m.group(2).strip() if m.group(2).strip() else m.group(2))
        return "\x00%d\x00" % (len(spans) - 1)
    s = re.sub(r"(`+)(.+?)\1", keep, s, flags=re.S)
    s = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", s)          # image: alt
    s = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", s)            # link: text
    s = re.sub(r"<((?:https?|mailto):[^>\s]+)>", r"\1", s)    # autolink
    s = re.sub(r"</?[A-Za-z][^>]*>", "", s)                    # html: empty
    s = re.sub(r"\*\*(?!\s)(.+?)(?<!\s)\*\*", r"\1", s)
    s = re.sub(r"(?<![A-Za-z0-9_])__(?!\s)(.+?)(?<!\s)__(?![A-Za-z0-9_])",
               r"\1", s)
    s = re.sub(r"\*(?![\s*])(.+?)(?<![\s*])\*", r"\1", s)
    s = re.sub(r"(?<![A-Za-z0-9_])_(?![\s_])(.+?)(?<![\s_])_(?![A-Za-z0-9_])",
               r"\1", s)
    s = re.sub(r"~~(.+?)~~", r"\1", s)
    s = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", s)              # escapes
    s = re.sub(r" {2,}\n", "\n", s)                            # br
    return re.sub("\x00(\\d+)\x00", lambda m: spans[int(m.group(1))], s)


def _table_cells(line):
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [c.strip() for c in line.split("|")]


def _starts_block(lines, i):
    line = lines[i]
    return bool(_FENCE.match(line) or _HEADING.match(line) or
                _HR.match(line) or _QUOTE.match(line) or
                (_ITEM.match(line) and _ITEM.match(line).group(3)) or
                ("|" in line and i + 1 < len(lines) and
                 _TABLE_SEP.match(lines[i + 1])))


def _md_blocks(lines):
    out = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        m = _FENCE.match(line)
        if m:
            mark = m.group(1)
            body = []
            i += 1
            while i < n and not re.match(r"^ {0,3}" + re.escape(mark[0]) +
                                         "{%d,}\\s*$" % len(mark), lines[i]):
                body.append(lines[i])
                i += 1
            i += 1
            out.append(html.escape("\n".join(body), quote=False) + "\n\n")
            continue
        m = _HEADING.match(line)
        if m:
            out.append(_md_inline(m.group(2) or "") + "\n\n")
            i += 1
            continue
        if _HR.match(line):
            out.append("\n")
            i += 1
            continue
        if _QUOTE.match(line):
            inner = []
            while i < n and lines[i].strip() and _QUOTE.match(lines[i]):
                inner.append(_QUOTE.match(lines[i]).group(1))
                i += 1
            out.append(_md_blocks(inner) + "\n\n")
            continue
        if "|" in line and i + 1 < n and _TABLE_SEP.match(lines[i + 1]):
            rows = [_table_cells(line)]
            i += 2
            while i < n and lines[i].strip() and "|" in lines[i]:
                rows.append(_table_cells(lines[i]))
                i += 1
            text = "".join("".join(_md_inline(c) + " " for c in r).strip()
                           + "\n" for r in rows)
            out.append(text + "\n")
            continue
        m = _ITEM.match(line)
        if m and m.group(3):
            items = []
            while i < n:
                m = _ITEM.match(lines[i])
                if m and m.group(3) is not None:
                    items.append(m.group(3))
                elif lines[i].strip() and lines[i][:1] in " \t" and items:
                    items[-1] += "\n" + lines[i].strip()
                elif not lines[i].strip():
                    # A blank line: the list goes on if an item follows.
                    j = i + 1
                    while j < n and not lines[j].strip():
                        j += 1
                    if j < n and _ITEM.match(lines[j]) and \
                            _ITEM.match(lines[j]).group(3):
                        i = j
                        continue
                    break
                else:
                    break
                i += 1
            text = "".join(_md_inline(it) + "\n" for it in items)
            out.append(text.strip() + "\n\n")
            continue
        para = [line]
        i += 1
        while i < n and lines[i].strip() and not _starts_block(lines, i):
            para.append(lines[i])
            i += 1
        out.append(_md_inline("\n".join(para)) + "\n\n")
    return "".join(out)


def markdown_to_txt(md):
    """Models the markdown-to-txt package (marked + a plain-text renderer,
    HTML entities unescaped, trimmed)."""
    return html.unescape(_md_blocks(md.replace("\r\n", "\n").split("\n"))).strip()


# ---------------------------------------------------------------------------
# Open WebUI (src/lib/utils/index.ts, backend routers/audio.py).

def owui_remove_formattings(s):
    """Models Open WebUI's removeFormattings: its regular expressions in
    its order (code blocks and table rows removed, emphasis, strike,
    inline code, links, headings, list and quote markers stripped)."""
    s = re.sub(r"```[\s\S]*?```", "", s)
    s = re.sub(r"^\|.*\|$", "", s, flags=re.M)
    s = re.sub(r"(?:\*\*|__)(.*?)(?:\*\*|__)", r"\1", s)
    s = re.sub(r"(?:[*_])(.*?)(?:[*_])", r"\1", s)
    s = re.sub(r"~~(.*?)~~", r"\1", s)
    s = re.sub(r"`([^`]+)`", r"\1", s)
    s = re.sub(r"!?\[([^\]]*)\](?:\([^)]+\)|\[[^\]]*\])", r"\1", s)
    s = re.sub(r"^\[[^\]]+\]:\s*.*$", "", s, flags=re.M)
    s = re.sub(r"^#{1,6}\s+", "", s, flags=re.M)
    s = re.sub(r"^\s*[-*+]\s+", "", s, flags=re.M)
    s = re.sub(r"^\s*(?:\d+\.)\s+", "", s, flags=re.M)
    s = re.sub(r"^\s*>[> ]*", "", s, flags=re.M)
    s = re.sub(r"^\s*:\s+", "", s, flags=re.M)
    s = re.sub(r"\[\^[^\]]*\]", "", s)
    return re.sub(r"\n{2,}", "\n", s)


def owui_clean_text(s):
    """Models Open WebUI's cleanText: removeFormattings(removeEmojis(trim))."""
    return owui_remove_formattings(remove_rgi_emoji(s.strip()))


def owui_extract_sentences(text):
    """Models Open WebUI's extractSentences: code blocks held aside, split
    after . ! ? and whitespace and at newlines, then each part cleaned and
    the empty ones dropped."""
    blocks = []

    def hold(m):
        blocks.append(m.group(0))
        return "\x00%d\x00" % (len(blocks) - 1)
    text = re.sub(r"```[\s\S]*?```", hold, text)
    parts = re.split(r"(?<=[.!?])\s+|\n+", text)
    parts = [re.sub("\x00(\\d+)\x00", lambda m: blocks[int(m.group(1))], p)
             for p in parts]
    return [c for c in (owui_clean_text(p) for p in parts) if c]


def owui_extract_sentences_for_audio(text):
    """Models Open WebUI's extractSentencesForAudio: a part of fewer than
    4 words or 50 characters is joined to the next with a space."""
    merged = []
    for cur in owui_extract_sentences(text):
        if merged and (js_split_ws_count(merged[-1]) < 4 or
                       js_len(merged[-1]) < 50):
            merged[-1] = merged[-1] + " " + cur
        else:
            merged.append(cur)
    return merged


def openwebui_requests(reply):
    """Models Open WebUI's default read-aloud (TTS split "punctuation"):
    getMessageContentParts, one request per part, in order.  The browser
    sends input and voice; its server's speech route sets model to the
    configured TTS_MODEL (tts-1) and sends no response_format."""
    return [{"input": p, "voice": "alloy", "model": "tts-1"}
            for p in owui_extract_sentences_for_audio(reply)]


# ---------------------------------------------------------------------------
# SillyTavern (public/scripts/extensions/tts/index.js, openai.js, and the
# server's /api/openai/generate-voice).

def sillytavern_clean(text, skip_codeblocks=False, skip_tags=False):
    """Models SillyTavern's processTtsQueue text handling with the TTS
    extension's defaults: code blocks and tags kept unless asked, every
    '*' removed (pass_asterisks off), embedded images removed, then every
    run of whitespace folded to one space."""
    if skip_codeblocks:
        text = re.sub(r"^\s{4}.*$", "", text, flags=re.M).strip()
        text = re.sub(r"```.*?```", "", text, flags=re.S).strip()
        text = re.sub(r"~~~.*?~~~", "", text, flags=re.S).strip()
    if skip_tags:
        text = re.sub(r"<.*?>[\s\S]*?</.*?>", "", text).strip()
    text = text.replace("*", "").strip()
    text = re.sub(r"!\[.*?]\([^)]*\)", "", text)
    return re.sub(r"\s+", " ", text).strip()


def sillytavern_requests(reply):
    """Models SillyTavern's OpenAI TTS provider: the whole message once
    (narrate_by_paragraphs off); its server sends input, voice, speed,
    model tts-1 and response_format mp3."""
    text = sillytavern_clean(reply)
    if not text:
        return []
    return [{"input": text, "voice": "alloy", "speed": 1, "model": "tts-1",
             "response_format": "mp3"}]


# ---------------------------------------------------------------------------
# NextChat (app/components/chat.tsx openaiSpeech, app/client/platforms).

def nextchat_requests(reply):
    """Models NextChat's openaiSpeech: markdownToTxt of the whole message,
    one request with the ttsConfig defaults (model tts-1, voice alloy,
    speed 1); response_format is left undefined, so it is not sent."""
    text = markdown_to_txt(reply)
    if not text:
        return []
    return [{"model": "tts-1", "input": text, "voice": "alloy", "speed": 1.0}]


# ---------------------------------------------------------------------------
# LibreChat (api/server/services/Files/Audio/TTSService.js, streamAudio.js).

LIBRECHAT_SEPARATORS = [".", "?", "!", "\u06d4", "\u3002", "\u2025", ";",
                        "\u00a1", "\u00bf", "\n", "```"]


def librechat_split_chunks(text, size=4000):
    """Models LibreChat's splitTextIntoChunks: pieces of at most `size`
    characters, each cut after the last separator it holds, trimmed."""
    chunks = []
    start, n = 0, len(text)
    while start < n:
        end = min(start + size, n)
        piece = text[start:end]
        if end < n:
            last = max(piece.rfind(sep) for sep in LIBRECHAT_SEPARATORS)
            if last != -1:
                end = start + last + 1
                piece = text[start:end]
            else:
                m = re.search(r"\S", text[end:])
                if m:
                    end += m.start()
                    piece = text[start:end]
        piece = piece.strip()
        if piece:
            chunks.append(piece)
        start = end
        while start < n and not text[start].strip():
            start += 1
    return chunks


def librechat_requests(reply):
    """Models LibreChat's manual read-aloud (processTextToSpeech): the
    message as it is, in one request below 4096 characters, else in
    1000-character pieces; the body is input, model and voice from
    librechat.yaml (tts-1, alloy), no response_format or speed."""
    if not reply:
        return []
    texts = [reply] if js_len(reply) < 4096 else \
        librechat_split_chunks(reply, 1000)
    return [{"input": t, "model": "tts-1", "voice": "alloy"} for t in texts]


# ---------------------------------------------------------------------------
# LobeChat (@lobehub/tts: splitTextIntoSegments, createOpenaiAudioSpeech).

_HALF = [("\u3000", " "), ("\u3002", "."), ("\uff0c", ","), ("\uff01", "!"),
         ("\uff1f", "?"), ("\uff1b", ";"), ("\uff1a", ":"), ("\uff08", "("),
         ("\uff09", ")"), ("\u3010", "["), ("\u3011", "]"), ("\u300a", "<"),
         ("\u300b", ">"), ("\u201c", '"'), ("\u201d", '"'), ("\u2018", "'"),
         ("\u2019", "'"), ("\n", ". ")]


def lobe_half_width_clean(text):
    """Models @lobehub/tts toHalfWidthAndCleanSpace: markdownToTxt, full-
    width forms shifted to ASCII, CJK punctuation made ASCII, each newline
    made '. ', whitespace folded."""
    s = markdown_to_txt(text)
    s = "".join(chr(ord(c) - 0xFEE0) if 0xFF01 <= ord(c) <= 0xFF5E else c
                for c in s)
    for a, b in _HALF:
        s = s.replace(a, b)
    return re.sub(r"\s+", " ", s)


def lobe_split_segments(text, chunk=100):
    """Models @lobehub/tts splitTextIntoSegments: a text over `chunk`
    characters is cut into its sentences ([^!.?]+[!.?]+, so text after
    the last mark is dropped), trimmed, joined with spaces into pieces of
    at most `chunk` characters."""
    text = lobe_half_width_clean(text)
    chunks, cur = [], ""

    def add(c):
        if c.strip():
            chunks.append(c.strip())
    for para in text.split("\n"):
        if js_len(cur) + js_len(para) + 1 > chunk and cur:
            add(cur)
            cur = ""
        if js_len(para) > chunk:
            sentences = re.findall(r"[^!.?]+[!.?]+", para) or [para]
            for s in sentences:
                if js_len(cur) + js_len(s) + 1 > chunk and cur:
                    add(cur)
                    cur = ""
                cur += (" " if cur else "") + s.strip()
        else:
            cur += ("\n" if cur else "") + para
    if cur:
        add(cur)
    return chunks


def lobechat_requests(reply):
    """Models LobeChat's OpenAI TTS: one request per segment, in order;
    the server's createOpenaiAudioSpeech sends input, model and voice
    (tts-1, alloy) and no response_format."""
    return [{"input": s, "model": "tts-1", "voice": "alloy"}
            for s in lobe_split_segments(reply)]


# ---------------------------------------------------------------------------
# Modes that ask while the reply streams.  The stream is the reply's text
# growing a few code points at a time; what a client has seen at each of
# its looks is a prefix of the reply.

def _stream_prefixes(reply, step):
    """The text a client has seen at each look: every `step` code points,
    then the whole reply."""
    return [reply[:i] for i in range(step, len(reply), step)] + [reply]


def openwebui_call_requests(reply):
    """Models Open WebUI's call mode (Chat.svelte while a message streams,
    CallOverlay): at each update of the message, getMessageContentParts of
    the content so far, the last (unfinished) part dropped; the new last
    part is sent if it differs from the one sent before; when the message
    is done, its last part likewise.  Same body as the speak button."""
    sent, last = [], None
    for text in _stream_prefixes(reply, 3):
        parts = owui_extract_sentences_for_audio(text)
        if text is not reply:
            parts = parts[:-1]
        if parts and parts[-1] != last:
            last = parts[-1]
            sent.append(last)
    return [{"input": p, "voice": "alloy", "model": "tts-1"} for p in sent]


def sillytavern_para_requests(reply):
    """Models SillyTavern's periodic auto generation (narrate by
    paragraphs while streaming): each time a paragraph ends ("\n\n") in
    the streamed message, the text since the last paragraph end is
    queued; when the message is done, the rest.  Each is cleaned as the
    whole message is (sillytavern_clean) and sent as sillytavern_requests
    sends it."""
    out, done = [], 0
    while True:
        end = reply.find("\n\n", done)
        if end == -1:
            break
        out.append(reply[done:end])
        done = end + 2
    out.append(reply[done:])
    texts = [t for t in (sillytavern_clean(p) for p in out) if t]
    return [{"input": t, "voice": "alloy", "speed": 1, "model": "tts-1",
             "response_format": "mp3"} for t in texts]


def librechat_auto_requests(reply):
    """Models LibreChat's automatic playback (streamAudio.js
    createChunkProcessor): it reads the message as it streams; while not
    complete, when at least 20 new characters are there, it sends up to
    and including the last separator (SEPARATORS, the last '.' of
    '```' included), or all of them when there is none -- so a piece can
    end inside a word; once complete, the rest, trimmed.  The raw text,
    no clean-up.  Where the stream is at each look varies: here a
    stride of 7 to 90 code points drawn from a generator seeded by the
    reply, so the cuts fall anywhere and every run cuts alike."""
    rnd = random.Random(zlib.crc32(reply.encode("utf-8")))
    looks, pos = [], 0
    while pos < len(reply):
        pos = min(len(reply), pos + rnd.randint(7, 90))
        looks.append(pos)
    return librechat_auto_at(reply, looks)


def librechat_auto_at(reply, looks):
    """librechat_auto_requests with the stream at the given offsets of
    the reply at each look (then at its end, complete)."""
    done, out = 0, []
    for pos in list(looks) + [len(reply)]:
        rest = reply[done:pos]
        if pos >= len(reply):
            if rest.strip():
                out.append(rest.strip())
            break
        if js_len(rest) < 20:
            continue
        cut = max(rest.rfind(sep) for sep in LIBRECHAT_SEPARATORS)
        if cut != -1:
            out.append(rest[:cut + 1])
            done += cut + 1
        else:
            out.append(rest)
            done = pos
    return [{"input": t, "model": "tts-1", "voice": "alloy"} for t in out]


SIMULATORS = {
    "openwebui": openwebui_requests,
    "sillytavern": sillytavern_requests,
    "nextchat": nextchat_requests,
    "librechat": librechat_requests,
    "lobechat": lobechat_requests,
    "openwebui-call": openwebui_call_requests,
    "sillytavern-para": sillytavern_para_requests,
    "librechat-auto": librechat_auto_requests,
}

CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "opus": "audio/ogg",
                 "aac": "audio/aac", "flac": "audio/flac", "pcm": "audio/pcm"}


# ---------------------------------------------------------------------------
# Self-test: each model on tiny inputs.

def selftest():
    fails = []

    def eq(what, got, want):
        if got != want:
            fails.append("%s:\n   got: %r\n  want: %r" % (what, got, want))

    def inputs(client, text):
        return [b["input"] for b in SIMULATORS[client](text)]

    # Open WebUI: split after .!? and at newlines, short parts merged on.
    eq("owui merge short parts",
       inputs("openwebui", "Hi. This is a much longer sentence that goes on "
              "for a while. Ok? Fine."),
       ["Hi. This is a much longer sentence that goes on for a while.",
        "Ok? Fine."])
    eq("owui clean-up",
       inputs("openwebui", "# Title here now\n\n**Bold** and *it* with "
              "[a link](http://x.y) and `code` 🎉 and http://bare.example/x "
              "kept around here.\n\n```\nx = 1\n```\n\n| a | b |\n|---|---|\n"
              "- item one two three four five six seven eight nine ten."),
       ["Title here now Bold and it with a link and code  and "
        "http://bare.example/x kept around here.",
        "item one two three four five six seven eight nine ten."])
    eq("owui chinese: no ASCII stop, split at newlines and merged",
       inputs("openwebui", "你好。今天天气很好！\n\n我们出去走走吧。"),
       ["你好。今天天气很好！ 我们出去走走吧。"])
    eq("owui fields", openwebui_requests("Hello there, this is one sentence "
                                         "that is long enough to stand."),
       [{"input": "Hello there, this is one sentence that is long enough "
                  "to stand.", "voice": "alloy", "model": "tts-1"}])

    # SillyTavern: the whole message, '*' removed, whitespace folded.
    eq("st whole message",
       sillytavern_requests("*She smiles.* \"Hello!\"\n\nSee ![img](a.png) "
                            "**this**."),
       [{"input": "She smiles. \"Hello!\" See this.", "voice": "alloy",
         "speed": 1, "model": "tts-1", "response_format": "mp3"}])
    eq("st keeps code and headings by default",
       inputs("sillytavern", "## Run\n\n```sh\nls -l\n```\nDone."),
       ["## Run ```sh ls -l ``` Done."])
    eq("st skip_codeblocks", sillytavern_clean("A\n```\nx\n```\nB",
                                               skip_codeblocks=True), "A B")

    # NextChat: markdown to plain text, one request.
    eq("nextchat md to text",
       inputs("nextchat", "# Title\n\nSome **bold** text with [a link]"
              "(http://x).\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |"
              "\n\n```py\nx = 1\n```"),
       ["Title\n\nSome bold text with a link.\n\none\ntwo\n\na b\n1 2\n\n"
        "x = 1"])
    eq("nextchat fields", nextchat_requests("Hi."),
       [{"model": "tts-1", "input": "Hi.", "voice": "alloy", "speed": 1.0}])

    # LibreChat: the message as it is; 1000-character pieces past 4096.
    eq("librechat as is", inputs("librechat", "**Hi** there.\n\n- a"),
       ["**Hi** there.\n\n- a"])
    long_text = " ".join(["Sentence number %d is here." % i
                          for i in range(200)])
    pieces = inputs("librechat", long_text)
    eq("librechat long: pieces", len(pieces) > 4 and
       all(js_len(p) <= 1000 for p in pieces) and
       all(p.endswith(".") for p in pieces), True)
    eq("librechat long: nothing lost", " ".join(pieces), long_text)
    eq("librechat fields", librechat_requests("Hi."),
       [{"input": "Hi.", "model": "tts-1", "voice": "alloy"}])

    # LobeChat: half-width punctuation, newlines to '. ', 100-char pieces.
    eq("lobe short: one piece",
       inputs("lobechat", "你好，世界。\n今天好！"),
       ["你好,世界.. 今天好!"])
    text = ("First sentence is right here. Second one follows it now! "
            "Third comes after that? Fourth is the last one here. "
            "Trailing words")
    eq("lobe long: sentences in pieces, tail dropped",
       inputs("lobechat", text),
       ["First sentence is right here. Second one follows it now! "
        "Third comes after that?", "Fourth is the last one here."])
    eq("lobe fields", lobechat_requests("Hi."),
       [{"input": "Hi.", "model": "tts-1", "voice": "alloy"}])
    eq("lobe markdown",
       inputs("lobechat", "## Tips\n\n- **Sleep** well\n- Eat 🍎"),
       ["Tips. . Sleep well. Eat 🍎"])

    # Words lost and repeated, the client's own apart.
    def acc(asked, heard):
        a = word_account(["Hi there.", "All good now."], asked, heard)
        return [a[k] for k in ("words", "client_lost", "client_repeated",
                               "unspoken", "lost", "repeated")]
    eq("words: a cut word is one word", acc(["Hi there. All go", "od now."],
                                           ["Hi there.", "All good now."]),
       [5, 0, 0, 0, 0, 0])
    eq("words: the client's repeat and code apart",
       acc(["Hi there.", "Hi there. All good now.", "```x = 1```"],
           ["Hi there.", "Hi there.", "All good now."]), [5, 0, 2, 2, 0, 0])
    eq("words: ttsaccel's repeat and loss",
       acc(["Hi there.", "All good now."], ["Hi there.", "Hi there.", "All"]),
       [5, 0, 0, 0, 2, 2])
    eq("words: the client's own loss",
       acc(["All good now."], ["All good now."]), [5, 2, 0, 0, 0, 0])

    # Shared helpers.
    eq("js_len counts UTF-16 units", js_len("a😀中"), 4)
    eq("emoji removal keeps text", remove_rgi_emoji("ok 👍🏽 ✨ fine ⚠️!"),
       "ok   fine !")
    eq("md inline", _md_inline("a `b*c*` **d** _e_ snake_case ~~f~~"),
       "a b*c* d e snake_case f")

    for f in fails:
        print("not ok - " + f)
    print("selftest: %d failed" % len(fails) if fails else "selftest: ok")
    return 1 if fails else 0


# ---------------------------------------------------------------------------
# The harness: chats through the daemon, then the client's requests.

class Daemon:
    def __init__(self, url, key, speech_url=None):
        self.url = url.rstrip("/")
        self.key = key
        self.speech_url = (speech_url or url).rstrip("/")

    def _req(self, method, path, body=None, headers=None, timeout=60,
             base=None):
        h = {"Authorization": "Bearer " + self.key}
        if body is not None:
            h["Content-Type"] = "application/json"
            body = json.dumps(body, ensure_ascii=False).encode()
        h.update(headers or {})
        req = urllib.request.Request((base or self.url) + path, data=body,
                                     headers=h, method=method)
        try:
            resp = urllib.request.urlopen(req, timeout=timeout)
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()
        with resp:
            return resp.status, dict(resp.headers), resp.read()

    def chat(self, reply):
        """A streamed chat whose reply is `reply`; the stream read to its
        end.  Returns (status, reply id, SSE body)."""
        body = {"model": "sim", "stream": True,
                "messages": [{"role": "user", "content": "Tell me."}],
                "x_fake": {"reply": reply, "chunk": 3}}
        st, h, data = self._req("POST", "/v1/chat/completions", body)
        rid = {k.lower(): v for k, v in h.items()}.get("x-tts-reply-id")
        return st, rid, data

    def segments(self, rid):
        st, _, data = self._req("GET", "/v1/audio/replies/%s/segments" % rid)
        return json.loads(data) if st == 200 else None

    def speech(self, body):
        st, h, data = self._req("POST", "/v1/audio/speech", body, timeout=120,
                                base=self.speech_url)
        h = {k.lower(): v for k, v in h.items()}
        return st, h, data


def backend_syntheses(log):
    """Speech requests the fake TTS has logged so far."""
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            return sum(1 for line in f if '"/v1/audio/speech"' in line)
    except FileNotFoundError:
        return 0


def wait_segments(d, rid, deadline):
    """Until the reply is complete and every segment done or failed."""
    segs = None
    while time.time() < deadline:
        segs = d.segments(rid)
        if segs and segs.get("state") != "streaming" and \
                all(s["state"] in ("done", "failed")
                    for s in segs.get("segments", [])):
            return segs, True
        time.sleep(0.05)
    return segs, False


def load_corpus(corpus):
    out = []
    for name in sorted(os.listdir(corpus)):
        path = os.path.join(corpus, name)
        if os.path.isfile(path) and not name.startswith("."):
            with open(path, encoding="utf-8") as f:
                out.append((name, f.read().rstrip("\n")))
    return out


# ---------------------------------------------------------------------------
# Words heard: the fake TTS makes each text's audio from the text alone
# (its pitch a hash of it, 30 ms a code point), so a WAV answer can be
# read back as the texts it is made of.

def wav_pcm(data):
    """The samples of a WAV (the data chunk to the end: a streamed WAV's
    sizes are not final)."""
    i = data.find(b"data", 12)
    return data[i + 8:] if data[:4] == b"RIFF" and i >= 0 else b""


def fold_words(text):
    """The words of a text as the daemon's fold hears them: compatibility
    forms and case folded, a CJK character a word of its own."""
    t = unicodedata.normalize("NFKC", text).casefold()
    out = []
    for w in re.findall(r"[^\W_]+", t):
        run = ""
        for ch in w:
            if unicodedata.east_asian_width(ch) in ("W", "F"):
                if run:
                    out.append(run)
                    run = ""
                out.append(ch)
            else:
                run += ch
        if run:
            out.append(run)
    return out


class Heard:
    """Reads WAV answers back as the texts the fake made them of."""

    def __init__(self, tts_url, tts_log):
        self.tts_url = tts_url.rstrip("/")
        self.tts_log = tts_log
        self.pcm = {}

    def backend(self):
        with open(self.tts_log, encoding="utf-8") as f:
            for line in f:
                j = json.loads(line)
                if j.get("path") == "/v1/audio/speech" and j.get("body"):
                    return j["body"]["model"], j["body"]["voice"]
        return None, None

    def texts_since(self, seq):
        out = []
        with open(self.tts_log, encoding="utf-8") as f:
            for n, line in enumerate(f):
                if n >= seq and '"/v1/audio/speech"' in line:
                    b = json.loads(line).get("body") or {}
                    if "input" in b:
                        out.append(b["input"])
        return out

    def audio_of(self, text):
        if text not in self.pcm:
            model, voice = self.backend()
            body = json.dumps({"model": model, "voice": voice, "input": text,
                               "response_format": "wav"}).encode()
            req = urllib.request.Request(
                self.tts_url + "/v1/audio/speech", data=body,
                headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                self.pcm[text] = wav_pcm(r.read())
        return self.pcm[text]

    def read(self, audio, candidates):
        """The texts an answer is made of, in order (None for samples
        none of the candidates explains)."""
        pcm, pos, out = wav_pcm(audio), 0, []
        cands = sorted(set(candidates), key=lambda t: -len(self.audio_of(t)))
        while pos < len(pcm):
            if not pcm[pos:].strip(b"\0"):
                break           # the silence of an answer with nothing new
            for t in cands:
                a = self.audio_of(t)
                if a and pcm[pos:pos + len(a)] == a:
                    out.append(t)
                    pos += len(a)
                    break
            else:
                out.append(None)
                break
        return out


def fold_chars(texts):
    """The folded code points of texts, joined, and for each the index of
    the word it belongs to (fold_words; a CJK character is a word)."""
    chars, word = [], []
    for t in texts:
        for w in fold_words(t):
            n = word[-1] + 1 if word else 0
            chars.append(w)
            word.extend([n] * len(w))
    return "".join(chars), word


def _ops(a, b):
    import difflib
    return difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()


# A piece of a request at least this many folded code points long (or a
# whole request, or at least 8 that start it as they start an earlier
# one) that an earlier request of the client holds is the client's own
# repeat; a piece of the answers heard beyond the reply's
# speech is the client's when it is a piece of those repeats.
REPEAT_MIN = 32


def word_account(spoken, asked, heard):
    """Words lost and repeated, the client's own apart from ttsaccel's.

    spoken: the reply's segments (what ttsaccel speaks of it); asked: the
    client's request texts, in order; heard: the texts its answers are
    made of, in order.  Compared on folded code points, so a word a
    client cut in two ("ra" | "pid") is still that word.  Returns a dict:
      words            words of the reply's speech
      client_lost      words of it the client never asked for (Open WebUI
                       drops table rows, LobeChat text after the last stop)
      client_repeated  words the client asked for again (call mode re-sends
                       a part that grew)
      unspoken         words asked that the reply does not speak (code,
                       list numbers: not spoken, by design)
      lost             words the client asked for that were never heard
      repeated         words heard more often than the reply has them,
                       less the client's own repeats"""
    S, sword = fold_chars(spoken)
    A, aword = fold_chars(asked)
    H, hword = fold_chars(heard)

    def nwords(words, i, j):
        return len(set(words[i:j]))
    out = {"words": len(set(sword)), "client_lost": 0, "client_repeated": 0,
           "unspoken": 0, "lost": 0, "repeated": 0}
    # The client's own repeats: pieces of a request that an earlier
    # request of it holds.
    again, again_text, at = set(), [], 0
    for k, t in enumerate(asked):
        earlier = [fold_chars([e])[0] for e in asked[:k]]
        prior = "\0".join(earlier)
        n = len(fold_chars([t])[0])
        p = at
        while p < at + n:
            m = 0
            while p + m < at + n and A[p:p + m + 1] in prior:
                m += 1
            if p == at:
                # A part that grew: it starts as an earlier one did.
                m = max(m, max((len(os.path.commonprefix([A[at:at + n], e]))
                                for e in earlier), default=0))
            if m >= REPEAT_MIN or (m > 0 and A[p:p + m] in earlier) or \
                    (p == at and m >= 8):
                again.update(aword[p:p + m])
                again_text.append(A[p:p + m])
                p += m
            else:
                p += 1
        at += n
    unasked, unsp = set(), set()
    for op, i1, i2, j1, j2 in _ops(S, A):
        if op in ("delete", "replace"):
            unasked.update(sword[i1:i2])
        if op in ("insert", "replace"):
            unsp.update(aword[j1:j2])
    # Text the reply itself says twice is no repeat of the client's: only
    # words the reply's speech has fewer of than the requests.
    from collections import Counter
    atext = fold_words(" ".join(asked))

    def texts(ws):
        return Counter(atext[w] for w in ws if w < len(atext))
    rep = sum((texts(again) & texts(unsp)).values())
    out["client_repeated"] = rep
    out["unspoken"] = len(unsp) - rep
    out["client_lost"] = len(unasked)
    # Heard beyond the reply's speech: the client's own repeats heard
    # again are its own; the rest ttsaccel's.
    unheard, extra, agains = set(), set(), "\0".join(again_text)
    for op, i1, i2, j1, j2 in _ops(S, H):
        if op in ("delete", "replace"):
            unheard.update(sword[i1:i2])
            if not set(sword[i1:i2]) <= unasked:
                out.setdefault("lost_runs", []).append(S[i1:i2])
        if op in ("insert", "replace"):
            p, before = j1, len(extra)
            while p < j2:
                k = 0
                while p + k < j2 and H[p:p + k + 1] in agains:
                    k += 1
                if k < 4 and k < j2 - j1:
                    extra.add(hword[p])
                    p += 1
                else:
                    p += k
            if len(extra) > before:
                out.setdefault("heard_runs", []).append(H[j1:j2])
    out["lost"] = len(unheard - unasked)
    out["repeated"] = len(extra)
    return out


def run_client(d, client, corpus, tts_log, deadline, heard=None):
    res = {"client": client, "title": TITLES[client], "replies": 0,
           "requests": 0, "no_new_synthesis": 0, "exact_text": 0,
           "by_cache": {}, "status_not_200": 0, "wrong_content_type": 0,
           "empty_audio": 0, "prefetch_incomplete": 0, "chat_errors": 0,
           "new_syntheses": 0, "details": []}
    for name, text in corpus:
        if time.time() > deadline:
            res["timed_out"] = True
            break
        st, rid, _ = d.chat(text)
        if st != 200 or not rid:
            res["chat_errors"] += 1
            continue
        res["replies"] += 1
        segs, complete = wait_segments(d, rid, min(deadline,
                                                   time.time() + 20))
        if not complete:
            res["prefetch_incomplete"] += 1
        exact = {text}
        seg_texts = [s["text"] for s in (segs or {}).get("segments", [])]
        exact.update(seg_texts)
        answers = []
        bodies = SIMULATORS[client](text)
        for i, body in enumerate(bodies):
            if heard is not None and \
                    body.get("response_format", "mp3") != "wav":
                # To read the answer back, WAV: which texts the daemon
                # answers with does not depend on the format (speech.c
                # matches every format against the replies' WAV; another
                # format is converted from the same texts' audio).
                body = dict(body, response_format="wav")
            before = backend_syntheses(tts_log)
            seq = sum(1 for _ in open(tts_log, encoding="utf-8")) \
                if os.path.exists(tts_log) else 0
            st, h, audio = d.speech(body)
            new = backend_syntheses(tts_log) - before
            if heard is not None:
                answers.append((audio, heard.texts_since(seq)))
            cache = h.get("x-tts-cache", "-") if st == 200 else "status-%d" % st
            # No response_format: mp3, as OpenAI's (TTS_DEFAULT_FORMAT unset).
            want_ct = CONTENT_TYPES[body.get("response_format", "mp3")]
            res["requests"] += 1
            res["by_cache"][cache] = res["by_cache"].get(cache, 0) + 1
            res["new_syntheses"] += new
            if st != 200:
                res["status_not_200"] += 1
            elif h.get("content-type") != want_ct:
                res["wrong_content_type"] += 1
            elif not audio:
                res["empty_audio"] += 1
            if st == 200 and new == 0:
                res["no_new_synthesis"] += 1
            if body["input"] in exact:
                res["exact_text"] += 1
            res["details"].append({"reply": name, "index": i,
                                   "input": body["input"], "status": st,
                                   "cache": cache, "new_syntheses": new,
                                   "bytes": len(audio),
                                   "exact_text": body["input"] in exact})
        if heard is not None:
            said, asked = [], []
            first = len(res["details"]) - len(answers)
            for k, (audio, made) in enumerate(answers):
                got = heard.read(audio, seg_texts + made)
                res["details"][first + k]["heard"] = got
                said.extend(got)
            unknown = sum(1 for t in said if t is None)
            acc = word_account(seg_texts, [b["input"] for b in bodies],
                               [t for t in said if t is not None])
            acc["audio_unread"] = unknown
            for k, v in acc.items():
                if isinstance(v, int):
                    res.setdefault("w", {})[k] = \
                        res.get("w", {}).get(k, 0) + v
            if any(v for k, v in acc.items() if k != "words"):
                res.setdefault("word_details", []).append(
                    dict(acc, reply=name))
    n = res["requests"]
    res["rate"] = res["no_new_synthesis"] / n if n else 0.0
    res["baseline_rate"] = res["exact_text"] / n if n else 0.0
    return res


def cmd_run(a):
    d = Daemon(a.url, a.key, a.speech_url)
    corpus = load_corpus(a.corpus)[::a.every]
    clients = a.clients.split(",") if a.clients else CLIENTS
    for c in clients:
        if c not in SIMULATORS:
            sys.exit("unknown client %r (one of %s)" % (c, ", ".join(CLIENTS)))
    deadline = time.time() + a.deadline
    heard = Heard(a.tts_url, a.tts_log) if a.tts_url else None
    results = [run_client(d, c, corpus, a.tts_log, deadline, heard)
               for c in clients]
    out = {"corpus": len(corpus), "clients": results}
    with open(a.json, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
    for r in results:
        print_table([r], header=(r is results[0]))
    return 0


def print_table(results, header=True):
    """The figures per client; lost/again are ttsaccel's (words the
    client asked for and never heard, words heard twice), c-lost/c-again
    the client's own (words of the reply it never asks for, or asks for
    twice); unsp the words asked that the reply does not speak."""
    if header:
        print("%-17s %8s %8s %9s %6s %5s %5s %6s %7s %5s  %s" % (
            "client", "requests", "no-synth", "exact-txt", "words", "lost",
            "again", "c-lost", "c-again", "unsp", "X-TTS-Cache"))
    for r in results:
        kinds = " ".join("%s=%d" % kv for kv in sorted(r["by_cache"].items()))
        w = r.get("w", {})
        print("%-17s %8d %7.1f%% %8.1f%% %6s %5s %5s %6s %7s %5s  %s" % (
            r["title"], r["requests"], 100 * r["rate"],
            100 * r["baseline_rate"], w.get("words", "-"),
            w.get("lost", "-"), w.get("repeated", "-"),
            w.get("client_lost", "-"), w.get("client_repeated", "-"),
            w.get("unspoken", "-"), kinds))


def cmd_report(a):
    results = []
    for path in a.results:
        with open(path, encoding="utf-8") as f:
            results.extend(json.load(f)["clients"])
    print_table(results)
    if a.json:
        summary = [{k: v for k, v in r.items() if k != "details"}
                   for r in results]
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump({"clients": summary}, f, ensure_ascii=False, indent=1)
    if a.min_rate is not None:
        low = [r["title"] for r in results if r["rate"] < a.min_rate]
        if low:
            print("below %.0f%% answered without a new synthesis: %s"
                  % (100 * a.min_rate, ", ".join(low)))
            return 1
    return 0


def case_requests(case):
    """The speech requests of a case: its client's, for its last reply;
    for librechat-auto with "looks", the stream seen up to the end of
    each look's text (found in order)."""
    reply = case["replies"][-1]
    client = case["client"]
    if client == "librechat-auto" and "looks" in case:
        offs, at = [], 0
        for look in case["looks"]:
            i = reply.index(look, at)
            at = i + len(look)
            offs.append(at)
        return librechat_auto_at(reply, offs)
    return SIMULATORS[client](reply)


def cmd_case(a):
    """One case of tests/clients/cases: chat its replies, then send its
    client's requests for the last; TAP lines, exit 1 on a failed check.
    Checks: the client sends what the case is about ("inputs"), every
    request is answered 200 without a new synthesis, and the requests in
    "empty" (by index) are answered with silence, the others with the
    audio of what they hold; with --tts-url, that the answers read back
    hold every word of the reply's speech the client asked for, once."""
    with open(a.file, encoding="utf-8") as f:
        case = json.load(f)
    name = os.path.basename(a.file)
    d = Daemon(a.url, a.key)
    fails = []

    def check(ok, what):
        print("%s - %s: %s" % ("ok" if ok else "not ok", name, what))
        if not ok:
            fails.append(what)
    segs = None
    for reply in case["replies"]:
        st, rid, _ = d.chat(reply)
        segs, done = wait_segments(d, rid, time.time() + 20)
        check(st == 200 and done, "reply chatted and prefetched")
    seg_texts = [s["text"] for s in (segs or {}).get("segments", [])]
    heard = Heard(a.tts_url, a.tts_log) if a.tts_url else None
    said = []
    bodies = case_requests(case)
    if "inputs" in case:
        check([b["input"] for b in bodies] == case["inputs"],
              "the client sends the pieces of the case: %r" %
              [b["input"] for b in bodies])
    empty = set(case.get("empty", []))
    for i, body in enumerate(bodies):
        if heard is not None:
            body = dict(body, response_format="wav")
        before = backend_syntheses(a.tts_log)
        st, h, audio = d.speech(body)
        new = backend_syntheses(a.tts_log) - before
        cache = h.get("x-tts-cache", "-")
        what = "request %d %r" % (i, body["input"][:60])
        if heard is not None:
            said.extend(heard.read(audio, seg_texts))
        check(st == 200 and new == 0,
              "%s: answered without a new synthesis (%d, %s, %d new)" %
              (what, st, cache, new))
        if i in empty:
            check(cache == "empty", "%s: silence, all of it was heard "
                  "or is not spoken (%s)" % (what, cache))
        else:
            check(cache != "empty" and len(audio) > 0,
                  "%s: its words are heard (%s)" % (what, cache))
    if heard is not None:
        w = word_account(seg_texts, [b["input"] for b in bodies],
                         [t for t in said if t is not None])
        check(None not in said, "every answer is made of the reply's "
              "segments")
        check(w["lost"] == 0 and w["repeated"] == 0,
              "every word asked for heard once (lost %d %r, repeated %d "
              "%r)" % (w["lost"], w.get("lost_runs"), w["repeated"],
                       w.get("heard_runs")))
    return 1 if fails else 0


def cmd_requests(a):
    with open(a.file, encoding="utf-8") as f:
        text = f.read().rstrip("\n")
    for body in SIMULATORS[a.client](text):
        print(json.dumps(body, ensure_ascii=False))
    return 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--selftest":
        return selftest()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--url", required=True)
    r.add_argument("--speech-url")
    r.add_argument("--key", required=True)
    r.add_argument("--tts-log", required=True)
    r.add_argument("--json", required=True)
    r.add_argument("--corpus", default=os.path.join(HERE, "corpus"))
    r.add_argument("--clients")
    r.add_argument("--deadline", type=float, default=50)
    r.add_argument("--every", type=int, default=1,
                   help="every Nth reply of the corpus only")
    r.add_argument("--tts-url", help="the fake TTS: count the words "
                   "heard (every format asked as WAV, to read it back)")
    rep = sub.add_parser("report")
    rep.add_argument("--min-rate", type=float)
    rep.add_argument("--json")
    rep.add_argument("results", nargs="+")
    c = sub.add_parser("case")
    c.add_argument("--url", required=True)
    c.add_argument("--key", required=True)
    c.add_argument("--tts-log", required=True)
    c.add_argument("--tts-url", help="the fake TTS: also check that "
                   "every word asked for is heard once (asked as WAV)")
    c.add_argument("file")
    q = sub.add_parser("requests")
    q.add_argument("client", choices=CLIENTS)
    q.add_argument("file")
    a = p.parse_args()
    return {"run": cmd_run, "report": cmd_report, "case": cmd_case,
            "requests": cmd_requests}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
