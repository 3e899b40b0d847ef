#!/usr/bin/env node
// Conformance with the official OpenAI SDK, used unchanged: the same
// requests against the fake upstream directly and through ttsaccel must give
// the same answers.  Prints TAP lines; exits 1 on any mismatch.
//
//   node conformance.mjs --direct http://127.0.0.1:P1 --proxy http://127.0.0.1:P2 [--key KEY]
//
// With --tts URL (the TTS server behind ttsaccel), speech is checked too (as
// audio and as events);
// with --out DIR the speech in wav, mp3 and opus is written there for
// decoding checks.
//
// Base URLs are given without /v1 (a trailing /v1 is accepted too).  The key
// is sent to both as the bearer key (default $OPENAI_API_KEY, else sk-test).
import { parseArgs } from 'node:util';
import { isDeepStrictEqual } from 'node:util';
import { writeFileSync } from 'node:fs';
import OpenAI from 'openai';
import { Stream } from 'openai/streaming';

const { values: opt } = parseArgs({
	options: {
		direct: { type: 'string' },
		proxy: { type: 'string' },
		key: { type: 'string', default: process.env.OPENAI_API_KEY || 'sk-test' },
		model: { type: 'string', default: 'gpt-conformance' },
		timeout: { type: 'string', default: '20000' },
		tts: { type: 'string' },
		out: { type: 'string' },
	},
});
if (!opt.direct || !opt.proxy) {
	console.error('usage: node conformance.mjs --direct URL --proxy URL [--key KEY]');
	process.exit(2);
}

function client(url) {
	return new OpenAI({
		baseURL: url.replace(/\/+$/, '').replace(/\/v1$/, '') + '/v1',
		apiKey: opt.key,
		maxRetries: 0,
		timeout: Number(opt.timeout),
	});
}
const sides = { direct: client(opt.direct), proxy: client(opt.proxy) };

// A whole-run guard: a hung request must not hang the suite.
setTimeout(() => {
	console.log('Bail out! conformance run took longer than 120 s');
	process.exit(1);
}, 120000).unref();

let n = 0;
let failed = 0;

function show(v) {
	return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v, null, 0);
}

// ok/not ok for one comparison, with got/want on failure.
function eq(desc, got, want) {
	n++;
	if (isDeepStrictEqual(got, want)) {
		console.log(`ok ${n} - ${desc}`);
		return true;
	}
	failed++;
	console.log(`not ok ${n} - ${desc}`);
	console.log(`  #  got: ${show(got)}`);
	console.log(`  # want: ${show(want)}`);
	return false;
}

function ok(desc, cond, detail) {
	n++;
	if (cond) {
		console.log(`ok ${n} - ${desc}`);
		return true;
	}
	failed++;
	console.log(`not ok ${n} - ${desc}`);
	if (detail !== undefined)
		console.log(`  # ${show(detail)}`);
	return false;
}

// Run one scenario; an exception is one failure, not the end of the run.
async function scenario(name, fn) {
	console.log(`# ${name}`);
	try {
		await fn();
	} catch (e) {
		n++;
		failed++;
		console.log(`not ok ${n} - ${name}: ${e?.constructor?.name}: ${e?.message}`);
	}
}

function messages(text) {
	return [
		{ role: 'system', content: 'You are a test.' },
		{ role: 'user', content: text },
	];
}

// Everything an SDK user sees of a stream, folded into one object.
async function collectStream(c, params, reqopts) {
	const r = {
		text: '', reasoning: '', roles: [], finish: null, chunks: 0,
		ids: new Set(), objects: new Set(), models: new Set(),
		usage: null, tools: [], error: null,
	};
	try {
		const stream = await c.chat.completions.create({ ...params, stream: true }, reqopts);
		for await (const chunk of stream) {
			r.chunks++;
			r.ids.add(chunk.id);
			r.objects.add(chunk.object);
			r.models.add(chunk.model);
			if (chunk.usage)
				r.usage = chunk.usage;
			const ch = chunk.choices?.[0];
			if (!ch)
				continue;
			const d = ch.delta ?? {};
			if (d.role)
				r.roles.push(d.role);
			if (d.content)
				r.text += d.content;
			if (d.reasoning_content)
				r.reasoning += d.reasoning_content;
			for (const tc of d.tool_calls ?? []) {
				const t = (r.tools[tc.index] ??= { type: '', name: '', arguments: '' });
				if (tc.type)
					t.type = tc.type;
				if (tc.function?.name)
					t.name += tc.function.name;
				if (tc.function?.arguments)
					t.arguments += tc.function.arguments;
			}
			if (ch.finish_reason)
				r.finish = ch.finish_reason;
		}
	} catch (e) {
		r.error = e;
	}
	return r;
}

async function both(fn) {
	const [direct, proxy] = await Promise.all([fn(sides.direct), fn(sides.proxy)]);
	return { direct, proxy };
}

// Compare two folded streams on everything that must agree.
function compareStreams(what, d, p, { expectText } = {}) {
	const dok = ok(`${what}: direct stream completes`, d.error === null, d.error?.message);
	const pok = ok(`${what}: stream through ttsaccel completes`, p.error === null, p.error?.message);
	if (!dok || !pok)
		return;
	if (expectText !== undefined)
		eq(`${what}: direct text is the expected reply`, d.text, expectText);
	eq(`${what}: same text through ttsaccel`, p.text, d.text);
	eq(`${what}: one role delta, assistant`, p.roles, ['assistant']);
	eq(`${what}: same finish_reason`, p.finish, d.finish);
	eq(`${what}: same number of chunks`, p.chunks, d.chunks);
	eq(`${what}: every chunk is chat.completion.chunk`, [...p.objects], ['chat.completion.chunk']);
	eq(`${what}: one id for the whole stream`, p.ids.size, 1);
	eq(`${what}: model is the request's`, [...p.models], [...d.models]);
	eq(`${what}: usage present iff direct has it`, p.usage !== null, d.usage !== null);
}

await scenario('streaming', async () => {
	const params = { model: opt.model, messages: messages('Say something.') };
	const { direct, proxy } = await both((c) => collectStream(c, params));
	compareStreams('stream', direct, proxy);
	ok('stream: the reply is not empty', direct.text.length > 0);
	eq('stream: finish_reason stop', proxy.finish, 'stop');
	eq('stream: model', [...proxy.models], [opt.model]);
});

await scenario('streaming with usage', async () => {
	const params = {
		model: opt.model, messages: messages('Say something.'),
		stream_options: { include_usage: true },
	};
	const { direct, proxy } = await both((c) => collectStream(c, params));
	compareStreams('stream+usage', direct, proxy);
	ok('stream+usage: usage through ttsaccel', proxy.usage?.total_tokens > 0, proxy.usage);
});

await scenario('streaming UTF-8', async () => {
	const text = '你好，世界！这是一个测试。今天天气很好🌞，我们去公园吧🎉😀！' +
	    ' Emoji with skin tone 👍🏽, a family 👨‍👩‍👧 and a flag 🇫🇷.';
	const params = { model: opt.model, messages: messages('ECHO:' + text) };
	const { direct, proxy } = await both((c) => collectStream(c, params));
	compareStreams('utf-8', direct, proxy, { expectText: text });
});

await scenario('non-streaming', async () => {
	const params = { model: opt.model, messages: messages('Say something.') };
	const { direct: d, proxy: p } = await both((c) => c.chat.completions.create(params));
	eq('non-stream: object', p.object, 'chat.completion');
	eq('non-stream: same content', p.choices[0]?.message?.content, d.choices[0]?.message?.content);
	eq('non-stream: same role', p.choices[0]?.message?.role, d.choices[0]?.message?.role);
	eq('non-stream: role assistant', p.choices[0]?.message?.role, 'assistant');
	eq('non-stream: same finish_reason', p.choices[0]?.finish_reason, d.choices[0]?.finish_reason);
	eq('non-stream: one choice', p.choices.length, 1);
	eq('non-stream: model', p.model, d.model);
	ok('non-stream: id present', typeof p.id === 'string' && p.id.length > 0, p.id);
	if (d.usage)
		ok('non-stream: usage present as direct', p.usage?.total_tokens > 0, p.usage);
	// The same reply streamed: assembly must match the stream.
	const s = await collectStream(sides.direct, params);
	eq('non-stream: content equals the streamed text', p.choices[0]?.message?.content, s.text);
});

await scenario('non-streaming UTF-8', async () => {
	const text = '中文回复：你好！😀🎉 ok.';
	const params = { model: opt.model, messages: messages('ECHO:' + text) };
	const { direct: d, proxy: p } = await both((c) => c.chat.completions.create(params));
	eq('non-stream utf-8: direct content', d.choices[0]?.message?.content, text);
	eq('non-stream utf-8: same content through ttsaccel', p.choices[0]?.message?.content, text);
});

await scenario('SDK stream helper', async () => {
	// chat.completions.stream() checks the chunks' shape as it assembles.
	const params = { model: opt.model, messages: messages('ECHO:Helper assembles this. Twice over.') };
	const { direct: d, proxy: p } = await both(async (c) =>
		(await c.chat.completions.stream(params).finalChatCompletion()));
	eq('helper: content', p.choices[0]?.message?.content, d.choices[0]?.message?.content);
	eq('helper: finish_reason', p.choices[0]?.finish_reason, 'stop');
});

await scenario('tool calls and reasoning', async () => {
	const params = {
		model: opt.model, messages: messages('What is the weather?'),
		x_fake: { tool_call: true, reasoning: 'The user wants the weather.' },
	};
	const { direct: d, proxy: p } = await both((c) => collectStream(c, params));
	compareStreams('tools', d, p);
	eq('tools stream: finish_reason tool_calls', p.finish, 'tool_calls');
	eq('tools stream: same tool calls', p.tools, d.tools);
	ok('tools stream: arguments are JSON', (() => { try { JSON.parse(p.tools[0]?.arguments); return true; } catch { return false; } })(), p.tools);
	eq('tools stream: same reasoning', p.reasoning, d.reasoning);

	const ns = await both((c) => c.chat.completions.create(params));
	const calls = (r) => (r.choices[0]?.message?.tool_calls ?? []).map((t) =>
		({ type: t.type, name: t.function?.name, arguments: t.function?.arguments }));
	eq('tools non-stream: same tool calls', calls(ns.proxy), calls(ns.direct));
	eq('tools non-stream: finish_reason', ns.proxy.choices[0]?.finish_reason, 'tool_calls');
	ok('tools non-stream: tool call id present',
	    typeof ns.proxy.choices[0]?.message?.tool_calls?.[0]?.id === 'string');
});

await scenario('upstream error status', async () => {
	for (const stream of [false, true]) {
		const params = {
			model: opt.model, messages: messages('x'), stream,
			x_fake: { fault: 'status:429' },
		};
		const { direct: d, proxy: p } = await both(async (c) => {
			try {
				const r = await c.chat.completions.create(params);
				if (stream)
					for await (const _ of r)
						;
				return { thrown: false };
			} catch (e) {
				return { thrown: true, cls: e.constructor.name, status: e.status,
				    type: e.error?.type, code: e.code };
			}
		});
		eq(`error (stream=${stream}): direct raises RateLimitError`, d.cls, 'RateLimitError');
		eq(`error (stream=${stream}): same error through ttsaccel`, p, d);
	}
});

await scenario('upstream dies mid-stream', async () => {
	const params = {
		model: opt.model, messages: messages('ECHO:Twelve chars. And then it stops.'),
		x_fake: { fault: 'die-after:3', chunk: 4 },
	};
	const { direct: d, proxy: p } = await both((c) => collectStream(c, params));
	ok('die: direct client sees an error', d.error !== null);
	ok('die: client through ttsaccel sees an error', p.error !== null,
	    `no error; text ${JSON.stringify(p.text)}, finish ${p.finish}`);
	eq('die: the text before the cut is the same', p.text, d.text);
	eq('die: no finish_reason through ttsaccel', p.finish, null);
});

await scenario('models.list', async () => {
	const { direct, proxy } = await both(async (c) => {
		const ids = [];
		for await (const m of c.models.list())
			ids.push(m.id);
		return ids;
	});
	ok('models: direct lists models', direct.length > 0, direct);
	const missing = direct.filter((id) => !proxy.includes(id));
	eq('models: every upstream model listed through ttsaccel', missing, []);
});

// --- Responses API (POST /v1/responses) ---------------------------------
// responses.create with stream true: the same events direct and through
// ttsaccel (ids and times, which the fake makes per request, aside);
// without stream, the same response object.
async function responsesChecks() {
	// Ids and times differ from one request to the next: made alike.
	const same = (v) => JSON.parse(JSON.stringify(v)
	    .replace(/"created_at":\d+/g, '"created_at":0')
	    .replace(/(resp|msg|rs|fc|call)_fake\d+/g, '$1_ID'));
	const text = 'The Responses API, streamed. 你好，世界！🙂 Spoken only this.';
	const params = {
		model: opt.model, input: 'ECHO:' + text,
		x_fake: { reasoning: 'Reasoning is not spoken.', tool_call: true },
	};
	await scenario('responses.create stream', async () => {
		const { direct: d, proxy: p } = await both(async (c) => {
			const events = [];
			for await (const ev of await c.responses.create({ ...params, stream: true }))
				events.push(ev);
			return events;
		});
		ok('responses stream: direct has events', d.length > 10, d.length);
		eq('responses stream: same events through ttsaccel', same(p), same(d));
		eq('responses stream: ends with response.completed', p.at(-1)?.type, 'response.completed');
		eq('responses stream: output text', p.filter((e) => e.type ===
		    'response.output_text.delta').map((e) => e.delta).join(''), text);
		ok('responses stream: reasoning and a function call came too',
		    p.some((e) => e.type === 'response.reasoning_summary_text.delta') &&
		    p.some((e) => e.type === 'response.function_call_arguments.delta'));
	});
	await scenario('responses.create', async () => {
		const { direct: d, proxy: p } = await both((c) => c.responses.create(params));
		eq('responses: same response through ttsaccel', same(p), same(d));
		eq('responses: output_text', p.output_text, text);
	});
	await scenario('responses.stream helper', async () => {
		const { direct: d, proxy: p } = await both(async (c) =>
			(await c.responses.stream(params).finalResponse()));
		eq('responses helper: same final response', same(p), same(d));
	});
	await scenario('responses upstream error status', async () => {
		for (const stream of [false, true]) {
			const { direct: d, proxy: p } = await both(async (c) => {
				try {
					const r = await c.responses.create({ ...params, stream,
					    x_fake: { fault: 'status:429' } });
					if (stream)
						for await (const _ of r)
							;
					return { thrown: false };
				} catch (e) {
					return { thrown: true, cls: e.constructor.name, status: e.status,
					    type: e.error?.type, code: e.code };
				}
			});
			eq(`responses error (stream=${stream}): direct raises RateLimitError`, d.cls, 'RateLimitError');
			eq(`responses error (stream=${stream}): same error through ttsaccel`, p, d);
		}
	});
}
await responsesChecks();
// --- end of the Responses API checks ---------------------------------------

if (opt.tts) {
	// audio.speech.create: through ttsaccel, the same bytes as straight
	// from the TTS server; the second time from the cache.
	const tts = client(opt.tts);
	await scenario('audio.speech.create', async () => {
		const params = { model: 'tts-1', voice: 'alloy',
		    input: 'The SDK asks for speech.', response_format: 'wav' };
		const bytes = async (c) => Buffer.from(
		    await (await c.audio.speech.create(params)).arrayBuffer());
		const d = await bytes(tts);
		const r1 = await sides.proxy.audio.speech.create(params).asResponse();
		const p1 = Buffer.from(await r1.arrayBuffer());
		const r2 = await sides.proxy.audio.speech.create(params).asResponse();
		const p2 = Buffer.from(await r2.arrayBuffer());
		ok('speech: direct answer is a WAV', d.subarray(0, 4).toString() === 'RIFF');
		eq('speech: same bytes through ttsaccel', p1.equals(d), true);
		eq('speech: first is a miss', r1.headers.get('x-tts-cache'), 'miss');
		eq('speech: second is a cache hit', r2.headers.get('x-tts-cache'), 'hit');
		eq('speech: hit has the same bytes', p2.equals(d), true);
		eq('speech: content type', r2.headers.get('content-type'), 'audio/wav');
		let pm = 'no error';
		try {
			await sides.proxy.audio.speech.create({ model: 'tts-1',
			    voice: 'alloy', input: '' });
		} catch (e) {
			pm = e.constructor.name;
		}
		eq('speech: empty input raises BadRequestError through ttsaccel', pm, 'BadRequestError');
	});
}

if (opt.tts) {
	// Compressed formats, converted by ttsaccel from the WAV it caches.
	await scenario('audio.speech.create in mp3 and opus', async () => {
		const base = { model: 'tts-1', voice: 'alloy',
		    input: 'The SDK asks for compressed speech.' };
		const want = { wav: 'audio/wav', mp3: 'audio/mpeg', opus: 'audio/ogg' };
		for (const fmt of ['wav', 'mp3', 'opus']) {
			const r = await sides.proxy.audio.speech.create({ ...base,
			    response_format: fmt }).asResponse();
			const b = Buffer.from(await r.arrayBuffer());
			eq(`speech ${fmt}: content type`, r.headers.get('content-type'), want[fmt]);
			if (fmt === 'mp3')
				ok('speech mp3: starts with an ID3 tag or an MPEG frame',
				    b.subarray(0, 3).toString() === 'ID3' ||
				    (b[0] === 0xff && (b[1] & 0xe0) === 0xe0), b.subarray(0, 4));
			if (fmt === 'opus')
				ok('speech opus: an Ogg stream with an OpusHead',
				    b.subarray(0, 4).toString() === 'OggS' &&
				    b.includes(Buffer.from('OpusHead')), b.subarray(0, 4));
			if (opt.out)
				writeFileSync(`${opt.out}/speech.${fmt}`, b);
		}
	});
}

// --- speech as events (stream_format "sse") -------------------------------
// audio.speech.create({..., stream_format: 'sse'}) through ttsaccel, read
// with the SDK's own SSE decoder: every speech.audio.delta decodes on its
// own, the deltas joined are the bytes of the same request without events,
// and speech.audio.done comes last with the usage.
async function speechEvents(fmt) {
	const params = { model: 'tts-1', voice: 'alloy', response_format: fmt,
	    input: 'The SDK reads speech as events. Two sentences of it.' };
	// Once first, so that both answers below come from the cache (an
	// assembled WAV's header is exact only then).
	await (await sides.proxy.audio.speech.create(params).asResponse()).arrayBuffer();
	const raw = Buffer.from(await (await sides.proxy.audio.speech.create(params)
	    .asResponse()).arrayBuffer());
	const r = await sides.proxy.audio.speech.create({ ...params,
	    stream_format: 'sse' }).asResponse();
	eq(`speech events ${fmt}: content type`, r.headers.get('content-type'),
	    'text/event-stream');
	const events = [];
	for await (const ev of Stream.fromSSEResponse(r, new AbortController(),
	    sides.proxy))
		events.push(ev);
	const deltas = events.filter((e) => e.type === 'speech.audio.delta');
	const bad = deltas.filter((e) => typeof e.audio !== 'string' ||
	    Buffer.from(e.audio, 'base64').toString('base64') !== e.audio);
	ok(`speech events ${fmt}: deltas`, deltas.length > 0, events.length);
	eq(`speech events ${fmt}: every delta is base64 on its own`, bad.length, 0);
	ok(`speech events ${fmt}: the deltas decoded are the raw answer's bytes`,
	    Buffer.concat(deltas.map((e) => Buffer.from(e.audio, 'base64')))
	        .equals(raw), `${raw.length} raw bytes`);
	const done = events.at(-1);
	eq(`speech events ${fmt}: speech.audio.done last, the only other event`,
	    [events.length - deltas.length, done?.type], [1, 'speech.audio.done']);
	const u = done?.usage ?? {};
	ok(`speech events ${fmt}: usage input, output and total tokens`,
	    [u.input_tokens, u.output_tokens, u.total_tokens].every(Number.isInteger) &&
	    u.total_tokens === u.input_tokens + u.output_tokens, u);
}

if (opt.tts) {
	for (const fmt of ['wav', 'mp3'])
		await scenario(`audio.speech.create with stream_format sse (${fmt})`,
		    () => speechEvents(fmt));
}

console.log(`1..${n}`);
console.log(failed === 0 ? `# all ${n} passed` : `# ${failed} of ${n} failed`);
process.exit(failed === 0 ? 0 : 1);
