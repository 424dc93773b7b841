// The Node binding of libmmbus: thin on purpose. It maps channels (an external ArrayBuffer over the
// mapping, so JavaScript reads and writes records in place), forwards calls as numbers in / numbers
// out (negative = MMBUS_E_* code; the detail is in errmsg()), and runs one waiter thread per
// subscriber that sleeps on the channel's futex and wakes JavaScript through a thread-safe function.
#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

extern "C" {
#include "mmbus.h"
int mmbus_set_err(int code, const char *fmt, ...);  // libmmbus's per-thread detail setter
}

namespace {

struct Channel {
  mmbus_channel_t *ch = nullptr;
  Napi::Reference<Napi::ArrayBuffer> buffer;  // detached at close: no read after unmap
  uint32_t record_size = 0;
  uint32_t record_stride = 0;
  mmbus_claim_t claim{};
  bool claimed = false;
  bool copying = false;  // no external buffer: JavaScript writes a copy area, commitFrom copies it in
  // The JavaScript staging record a single publish copies from (stage()): held, so it stays put.
  Napi::Reference<Napi::ArrayBuffer> staging;
  const uint8_t *staged = nullptr;
  int open_subs = 0;
  bool orphaned = false;  // collected by the GC while subscribers were open: the last one frees it
};

// One waiter thread per subscriber. JavaScript and the thread never use the mmbus_sub_t at the same
// time: JavaScript arms a wait and does not touch the subscriber until the callback has run.
struct Sub {
  mmbus_sub_t *sub = nullptr;
  Channel *owner = nullptr;
  Napi::ThreadSafeFunction tsfn;
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  // Written under mu (the waiter's condition); read without it by every JavaScript call that uses the
  // subscriber, so that a poll costs no lock: release/acquire order the waiter's use of sub before it.
  std::atomic<bool> armed{false};
  bool stop = false;
  int64_t timeout_ms = -1;
  Napi::FunctionReference callback;  // the callback of the wait in progress
  mmbus_batch_t batch{};             // the last polled batch (keyed: wants() looks at it)
  bool closed = false;
  int refs = 2;  // the JavaScript handle and the thread-safe function; both released on the JS thread
};

void Unref(Sub *s) {
  if (--s->refs == 0) delete s;
}

// The object behind a handle, or nullptr for anything else. One N-API call on every publish, poll and
// ack: napi_get_value_external refuses a value that is not an external itself (no napi_typeof first).
template <typename T>
T *ExternalOf(napi_env env, napi_value v) {
  void *data = nullptr;
  return v && napi_get_value_external(env, v, &data) == napi_ok ? static_cast<T *>(data) : nullptr;
}

Channel *ChannelOf(const Napi::Value &v) { return ExternalOf<Channel>(v.Env(), v); }

Sub *SubOf(const Napi::Value &v) { return ExternalOf<Sub>(v.Env(), v); }

Napi::Number Code(Napi::Env env, int rc) { return Napi::Number::New(env, rc); }

// The calls made once per publish or per batch (PublishStaged, poll, wants) are plain Node-API callbacks: the
// CallbackInfo wrapper of node-addon-api costs ~100 instructions a call (callgrind, per publish
// call: 669 -> 562, of which mmbus_publish 282).
// Arguments missing (or a failed look-up) are nullptr.
template <size_t N>
void RawArgs(napi_env env, napi_callback_info info, napi_value (&argv)[N]) {
  size_t argc = N;
  for (napi_value &v : argv) v = nullptr;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
}

napi_value RawNumber(napi_env env, double v) {
  napi_value out = nullptr;
  napi_create_double(env, v, &out);
  return out;
}

int Fail(int code, const char *msg) {
  // Sets the per-thread detail through the library, so errmsg() reports it like any other failure.
  return mmbus_set_err(code, "%s", msg);
}

// A string that reaches C: a NUL byte would cut it short there, so it is refused instead.
bool CString(const Napi::Value &v, std::string *out) {
  *out = v.As<Napi::String>().Utf8Value();
  return out->find('\0') == std::string::npos;
}

// Numbers from the TS layer, which validated them; checked again so that nothing is coerced here.
bool OptInteger(const Napi::Object &o, const char *key, double lo, double hi, double dflt, double *out) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) {
    *out = dflt;
    return true;
  }
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || d != static_cast<double>(static_cast<int64_t>(d))) return false;
  *out = d;
  return true;
}

void CloseChannel(Channel *c);

void CloseSub(Sub *s) {
  if (s->closed) return;
  s->closed = true;
  {
    std::lock_guard<std::mutex> lock(s->mu);
    s->stop = true;
  }
  mmbus_sub_interrupt(s->sub);
  s->cv.notify_all();
  if (s->thread.joinable()) s->thread.join();
  s->tsfn.Release();
  mmbus_sub_close(s->sub);
  s->sub = nullptr;
  s->callback.Reset();
  Channel *c = s->owner;
  s->owner = nullptr;
  if (c && --c->open_subs == 0 && c->orphaned) {
    CloseChannel(c);
    delete c;
  }
}

void CloseChannel(Channel *c) {
  if (!c->ch) return;
  if (!c->buffer.IsEmpty()) {
    Napi::ArrayBuffer ab = c->buffer.Value();
    if (!ab.IsEmpty() && !ab.IsDetached()) ab.Detach();
    c->buffer.Reset();
  }
  c->staging.Reset();
  c->staged = nullptr;
  mmbus_close(c->ch);
  c->ch = nullptr;
}

// open(dir, name, options) -> { handle, buffer, info } | negative code
Napi::Value Open(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsObject())
    return Code(env, Fail(MMBUS_E_INVAL, "open(dir, name, options)"));
  std::string dir, name;
  if (!CString(info[0], &dir)) return Code(env, Fail(MMBUS_E_DIR, "the directory contains a NUL byte"));
  if (!CString(info[1], &name)) return Code(env, Fail(MMBUS_E_NAME, "channel name contains a NUL byte"));
  Napi::Object o = info[2].As<Napi::Object>();
  mmbus_options_t opts;
  mmbus_options_init(&opts);
  if (o.Get("create").ToBoolean()) opts.flags |= MMBUS_CREATE;
  if (o.Get("exclusive").ToBoolean()) opts.flags |= MMBUS_EXCL;
  if (o.Get("readonly").ToBoolean()) opts.flags |= MMBUS_READONLY;
  static const double kMaxMs = static_cast<double>(MMBUS_TIMEOUT_MAX_MS);
  double recordSize, capacity, policy, blockMs, heartbeatMs, unblockMs, lockMs, mode, maxSubs, maxPubs, keyCount,
      keyOffset, keySize;
  if (!OptInteger(o, "recordSize", 0, MMBUS_RECORD_SIZE_MAX, 0, &recordSize) ||
      !OptInteger(o, "capacity", 0, static_cast<double>(MMBUS_CAPACITY_MAX), 0, &capacity) ||
      !OptInteger(o, "policy", 0, 3, 0, &policy) || !OptInteger(o, "blockTimeoutMs", -1, kMaxMs, -1, &blockMs) ||
      !OptInteger(o, "heartbeatTimeoutMs", -1, kMaxMs, -1, &heartbeatMs) ||
      !OptInteger(o, "unblockTimeoutMs", -1, kMaxMs, -1, &unblockMs) ||
      !OptInteger(o, "lockTimeoutMs", -1, kMaxMs, -1, &lockMs) || !OptInteger(o, "mode", 0, 0777, 0, &mode) ||
      !OptInteger(o, "maxSubscribers", 0, MMBUS_MAX_SUBSCRIBERS_LIMIT, 0, &maxSubs) ||
      !OptInteger(o, "maxPublishers", 0, MMBUS_MAX_PUBLISHERS_LIMIT, 0, &maxPubs) ||
      !OptInteger(o, "keyCount", 0, static_cast<double>(MMBUS_KEY_COUNT_MAX), 0, &keyCount) ||
      !OptInteger(o, "keyOffset", 0, MMBUS_RECORD_SIZE_MAX, 0, &keyOffset) || !OptInteger(o, "keySize", 0, 8, 0, &keySize))
    return Code(env, Fail(MMBUS_E_INVAL, "an option is not an integer in its range"));
  opts.record_size = static_cast<uint32_t>(recordSize);
  opts.capacity = static_cast<uint64_t>(capacity);
  opts.policy = static_cast<mmbus_policy_t>(policy);
  opts.block_timeout_ms = static_cast<int64_t>(blockMs);
  opts.heartbeat_timeout_ms = static_cast<int64_t>(heartbeatMs);
  opts.unblock_timeout_ms = static_cast<int64_t>(unblockMs);
  opts.lock_timeout_ms = static_cast<int64_t>(lockMs);
  opts.mode = static_cast<uint32_t>(mode);
  opts.max_subscribers = static_cast<uint32_t>(maxSubs);
  opts.max_publishers = static_cast<uint32_t>(maxPubs);
  opts.key_count = static_cast<uint64_t>(keyCount);
  opts.key_offset = static_cast<uint32_t>(keyOffset);
  opts.key_size = static_cast<uint32_t>(keySize);
  std::string schema;
  Napi::Value sv = o.Get("schemaName");
  if (sv.IsString()) {
    if (!CString(sv, &schema)) return Code(env, Fail(MMBUS_E_INVAL, "the schema name contains a NUL byte"));
    opts.schema_name = schema.c_str();
  }
  std::string layout;
  Napi::Value lv = o.Get("layout");
  if (lv.IsString()) {
    layout = lv.As<Napi::String>().Utf8Value(); // a NUL in it is refused by mmbus_open
    opts.layout = layout.data();
    opts.layout_size = layout.size();
  }
  Napi::Value fp = o.Get("fingerprint");
  if (fp.IsBigInt()) {
    bool lossless = false;
    opts.fingerprint = fp.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) return Code(env, Fail(MMBUS_E_INVAL, "the fingerprint is not a 64-bit unsigned integer"));
  }

  mmbus_channel_t *ch = nullptr;
  int rc = mmbus_open(dir.c_str(), name.c_str(), &opts, &ch);
  if (rc) return Code(env, rc);
  auto *c = new Channel();
  c->ch = ch;
  // Zero-copy: JavaScript reads and writes the mapping through an external ArrayBuffer. Runtimes that
  // refuse external buffers (Electron's V8 sandbox) get none, and the TS layer copies records instead.
  // MMBUS_COPY_BUFFERS=1 forces that path (to test it, or to compare).
  napi_value abValue = nullptr;
  const char *force = getenv("MMBUS_COPY_BUFFERS");
  // A read-only mapping gets no buffer: a JavaScript write to it would kill the process.
  bool copying = (force && *force && strcmp(force, "0") != 0) || (opts.flags & MMBUS_READONLY);
  if (!copying && napi_create_external_arraybuffer(env, mmbus_base(ch), mmbus_mapped_size(ch), nullptr, nullptr,
                                                   &abValue) != napi_ok) {
    copying = true;
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
  }
  c->copying = copying;
  if (!copying) c->buffer = Napi::Persistent(Napi::ArrayBuffer(env, abValue));
  mmbus_info_t in;
  mmbus_info(ch, &in);
  c->record_size = in.record_size;
  c->record_stride = in.record_stride;
  Napi::Object infoObj = Napi::Object::New(env);
  infoObj.Set("formatVersion", in.format_version);
  infoObj.Set("recordSize", in.record_size);
  infoObj.Set("recordStride", in.record_stride);
  infoObj.Set("capacity", static_cast<double>(in.capacity));
  infoObj.Set("policy", static_cast<double>(in.policy));
  infoObj.Set("fingerprint", Napi::BigInt::New(env, in.fingerprint));
  infoObj.Set("schemaName", in.schema_name);
  infoObj.Set("createdNs", Napi::BigInt::New(env, in.created_ns));
  infoObj.Set("blockTimeoutMs", static_cast<double>(in.block_timeout_ms));
  infoObj.Set("heartbeatTimeoutMs", static_cast<double>(in.heartbeat_timeout_ms));
  infoObj.Set("unblockTimeoutMs", static_cast<double>(in.unblock_timeout_ms));
  infoObj.Set("readonly", in.readonly != 0);
  infoObj.Set("stampsOffset", static_cast<double>(in.stamps_offset));
  infoObj.Set("maxSubscribers", in.max_subscribers);
  infoObj.Set("maxPublishers", in.max_publishers);
  infoObj.Set("fileSize", static_cast<double>(in.file_size));
  infoObj.Set("dataOffset", static_cast<double>(in.data_offset));
  infoObj.Set("keyCount", static_cast<double>(in.key_count));
  infoObj.Set("keyOffset", in.key_offset);
  infoObj.Set("keySize", in.key_size);
  infoObj.Set("keysOffset", static_cast<double>(in.keys_offset));
  infoObj.Set("keyEntrySize", static_cast<double>(in.key_entry_size));
  infoObj.Set("keyHeaderSize", in.key_header_size);
  infoObj.Set("layoutSize", static_cast<double>(in.layout_size));
  Napi::Object result = Napi::Object::New(env);
  result.Set("handle", Napi::External<Channel>::New(env, c, [](Napi::Env, Channel *c) {
               // Collected without close(): free it now, or when its last subscriber is closed.
               if (c->open_subs > 0) {
                 c->orphaned = true;
                 return;
               }
               CloseChannel(c);
               delete c;
             }));
  if (copying) result.Set("buffer", env.Null());
  else result.Set("buffer", Napi::Value(env, abValue));
  result.Set("info", infoObj);
  return result;
}

Napi::Value Close(const Napi::CallbackInfo &info) {
  Channel *c = ChannelOf(info[0]);
  if (!c || !c->ch) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "channel is closed"));
  if (c->open_subs > 0) return Code(info.Env(), Fail(MMBUS_E_STATE, "close the channel's subscribers first"));
  if (c->claimed) mmbus_claim_abort(c->ch, &c->claim);
  c->claimed = false;
  CloseChannel(c);
  return Code(info.Env(), 0);
}

// publish() of a channel, bound to it by stage(): no handle to look up, and undefined on success (no
// number made). Measured with perf, the external look-up and the number were ~10 % of a publish.
napi_value PublishStaged(napi_env env, napi_callback_info info) {
  void *data = nullptr;
  size_t argc = 0;
  napi_get_cb_info(env, info, &argc, nullptr, nullptr, &data);
  Channel *c = static_cast<Channel *>(data);
  if (!c->ch) return RawNumber(env, Fail(MMBUS_E_CLOSED, "channel is closed"));  // staged while open: stage() made this
  int rc = mmbus_publish(c->ch, c->staged, c->record_size);
  return rc < 0 ? RawNumber(env, rc) : nullptr;
}

// stage(handle, bytes: Uint8Array) -> publish: () => undefined | negative code, publishing the record
// in bytes, once per channel. The function holds the handle, so the channel outlives it.
Napi::Value Stage(const Napi::CallbackInfo &info) {
  Channel *c = ChannelOf(info[0]);
  if (!c || !c->ch) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "channel is closed"));
  if (c->staged) return Code(info.Env(), Fail(MMBUS_E_STATE, "the channel's record is staged already"));
  if (!info[1].IsTypedArray()) return Code(info.Env(), Fail(MMBUS_E_INVAL, "stage needs a Uint8Array"));
  Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
  if (ta.ByteLength() < c->record_size) return Code(info.Env(), Fail(MMBUS_E_TOOBIG, "a staging record shorter than a record"));
  napi_value fn = nullptr;
  if (napi_create_function(info.Env(), "publish", NAPI_AUTO_LENGTH, PublishStaged, c, &fn) != napi_ok ||
      napi_set_named_property(info.Env(), fn, "handle", info[0]) != napi_ok)
    return Code(info.Env(), Fail(MMBUS_E_NOMEM, "could not make the publish function"));
  Napi::ArrayBuffer ab = ta.ArrayBuffer();
  c->staging = Napi::Persistent(ab);
  c->staged = static_cast<const uint8_t *>(ab.Data()) + ta.ByteOffset();
  return Napi::Value(info.Env(), fn);
}

// claim(handle, n, timeoutMs) -> first sequence number (>= 0) | negative code
Napi::Value Claim(const Napi::CallbackInfo &info) {
  Channel *c = ChannelOf(info[0]);
  if (!c || !c->ch) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "channel is closed"));
  if (c->claimed) return Code(info.Env(), Fail(MMBUS_E_STATE, "a claim of this channel is not committed yet"));
  uint32_t n = info[1].As<Napi::Number>().Uint32Value();
  int64_t timeout = info[2].As<Napi::Number>().Int64Value();
  int rc = mmbus_claim(c->ch, n, timeout, &c->claim);
  if (rc) return Code(info.Env(), rc);
  // A slot still holds its previous lap: a writer that sets some fields must not publish the rest of
  // another record (JavaScript writers get a zeroed record; copying mode zeroes its copy area).
  if (!c->copying)
    for (uint32_t i = 0; i < n; i++) memset(mmbus_claim_record(&c->claim, i), 0, c->record_size);
  c->claimed = true;
  return Napi::Number::New(info.Env(), static_cast<double>(c->claim.seq));
}

Napi::Value Commit(const Napi::CallbackInfo &info) {
  Channel *c = ChannelOf(info[0]);
  if (!c || !c->ch) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "channel is closed"));
  if (!c->claimed) return Code(info.Env(), Fail(MMBUS_E_STATE, "commit without a claim"));
  bool abort = info.Length() > 1 && info[1].ToBoolean();
  c->claimed = false;
  return Code(info.Env(), abort ? mmbus_claim_abort(c->ch, &c->claim) : mmbus_commit(c->ch, &c->claim));
}

// commitFrom(handle, src: Uint8Array): copies the claimed records from src (copying mode), then commits.
Napi::Value CommitFrom(const Napi::CallbackInfo &info) {
  Channel *c = ChannelOf(info[0]);
  if (!c || !c->ch) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "channel is closed"));
  if (!c->claimed) return Code(info.Env(), Fail(MMBUS_E_STATE, "commit without a claim"));
  if (!info[1].IsTypedArray()) return Code(info.Env(), Fail(MMBUS_E_INVAL, "commitFrom needs a Uint8Array"));
  Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
  const uint8_t *src = static_cast<const uint8_t *>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  if (static_cast<size_t>(c->claim.n) * c->record_stride > ta.ByteLength())
    return Code(info.Env(), Fail(MMBUS_E_TOOBIG, "fewer bytes than claimed records"));
  for (uint32_t i = 0; i < c->claim.n; i++)
    memcpy(mmbus_claim_record(&c->claim, i), src + static_cast<size_t>(i) * c->record_stride, c->record_size);
  c->claimed = false;
  return Code(info.Env(), mmbus_commit(c->ch, &c->claim));
}

Napi::Value Flush(const Napi::CallbackInfo &info) {
  Channel *c = ChannelOf(info[0]);
  if (!c || !c->ch) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "channel is closed"));
  return Code(info.Env(), mmbus_flush(c->ch));
}

// stats(handle, exact) -> the channel's counters; exact: 64-bit counters as BigInt (tools), else numbers
Napi::Value Stats(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Channel *c = ChannelOf(info[0]);
  if (!c || !c->ch) return Code(env, Fail(MMBUS_E_CLOSED, "channel is closed"));
  const bool exact = info.Length() > 1 && info[1].ToBoolean();
  auto u64 = [&](uint64_t v) -> Napi::Value {
    return exact ? Napi::Value(Napi::BigInt::New(env, v)) : Napi::Value(Napi::Number::New(env, static_cast<double>(v)));
  };
  mmbus_info_t in;
  mmbus_info(c->ch, &in);
  std::vector<mmbus_sub_stats_t> subs(in.max_subscribers);
  mmbus_stats_t st;
  int n = mmbus_stats(c->ch, &st, subs.data(), in.max_subscribers);
  if (n < 0) return Code(env, n);
  Napi::Object o = Napi::Object::New(env);
  o.Set("head", u64(st.head));
  o.Set("capacity", static_cast<double>(st.capacity));
  o.Set("publishersAlive", st.publishers_alive);
  o.Set("subscribersActive", st.subscribers_active);
  o.Set("subscribersOffline", st.subscribers_offline);
  o.Set("subscribersDead", st.subscribers_dead);
  o.Set("maxLag", u64(st.max_lag));
  o.Set("claimsRevoked", st.claims_revoked);
  static const char *states[] = {"free", "active", "offline", "dead"};
  Napi::Array arr = Napi::Array::New(env, n);
  for (int i = 0; i < n; i++) {
    const mmbus_sub_stats_t &s = subs[i];
    Napi::Object e = Napi::Object::New(env);
    e.Set("slot", s.slot);
    e.Set("state", states[s.state]);
    e.Set("durable", s.durable != 0);
    e.Set("name", s.name);
    e.Set("pid", s.pid);
    e.Set("otherPidNamespace", s.other_pid_ns != 0);
    e.Set("cursor", u64(s.cursor));
    e.Set("lag", u64(s.lag));
    e.Set("lost", u64(s.lost));
    e.Set("heartbeatAgeMs", static_cast<double>(s.heartbeat_age_ms));
    arr.Set(i, e);
  }
  o.Set("subscribers", arr);
  return o;
}

// head(handle, exact) -> the next sequence number (a BigInt when exact)
Napi::Value Head(const Napi::CallbackInfo &info) {
  Channel *c = ChannelOf(info[0]);
  if (!c || !c->ch) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "channel is closed"));
  uint64_t h = mmbus_head(c->ch);
  if (info.Length() > 1 && info[1].ToBoolean()) return Napi::BigInt::New(info.Env(), h);
  return Napi::Number::New(info.Env(), static_cast<double>(h));
}

// read(handle, seq, out: Uint8Array) -> 0 | negative code: copies a record without subscribing
Napi::Value Read(const Napi::CallbackInfo &info) {
  Channel *c = ChannelOf(info[0]);
  if (!c || !c->ch) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "channel is closed"));
  if (!info[2].IsTypedArray()) return Code(info.Env(), Fail(MMBUS_E_INVAL, "read needs a Uint8Array"));
  Napi::TypedArray out = info[2].As<Napi::TypedArray>();
  uint8_t *dst = static_cast<uint8_t *>(out.ArrayBuffer().Data()) + out.ByteOffset();
  uint64_t seq;
  if (info[1].IsBigInt()) {
    bool lossless = false;
    seq = info[1].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) return Code(info.Env(), Fail(MMBUS_E_INVAL, "sequence number out of range"));
  } else {
    double d = info[1].As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 9007199254740991.0) || d != static_cast<double>(static_cast<uint64_t>(d)))
      return Code(info.Env(), Fail(MMBUS_E_INVAL, "sequence number must be a non-negative integer"));
    seq = static_cast<uint64_t>(d);
  }
  return Code(info.Env(), mmbus_read(c->ch, seq, dst, out.ByteLength()));
}

Napi::Value Gc(const Napi::CallbackInfo &info) {
  Channel *c = ChannelOf(info[0]);
  if (!c || !c->ch) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "channel is closed"));
  return Code(info.Env(), mmbus_gc(c->ch));
}

void WaiterLoop(Sub *s) {
  for (;;) {
    int64_t timeout;
    {
      std::unique_lock<std::mutex> lock(s->mu);
      s->cv.wait(lock, [s] { return s->armed || s->stop; });
      if (s->stop) return;
      timeout = s->timeout_ms;
    }
    int rc = mmbus_wait(s->sub, timeout);
    std::string detail = rc ? mmbus_errmsg() : "";
    {
      std::lock_guard<std::mutex> lock(s->mu);
      s->armed.store(false, std::memory_order_release);
      if (s->stop) return;
    }
    auto *payload = new std::pair<int, std::string>(rc, detail);
    napi_status st = s->tsfn.BlockingCall(payload, [s](Napi::Env env, Napi::Function, std::pair<int, std::string> *p) {
      // On the JavaScript thread: hand the result to the callback of the wait (unless closed since).
      int code = p->first;
      std::string msg = std::move(p->second);
      delete p;
      if (s->closed || s->callback.IsEmpty()) return;
      Napi::Function fn = s->callback.Value();
      s->callback.Reset();
      s->tsfn.Unref(env);
      fn.Call({Napi::Number::New(env, code), Napi::String::New(env, msg)});
    });
    if (st != napi_ok) {
      delete payload;
      return;
    }
  }
}

// subscribe(handle, name | null, start) -> sub handle | negative code
Napi::Value Subscribe(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Channel *c = ChannelOf(info[0]);
  if (!c || !c->ch) return Code(env, Fail(MMBUS_E_CLOSED, "channel is closed"));
  std::string name;
  if (info[1].IsString() && !CString(info[1], &name))
    return Code(env, Fail(MMBUS_E_NAME, "subscriber name contains a NUL byte"));
  mmbus_sub_options_t so;
  mmbus_sub_options_init(&so);
  so.name = name.empty() ? nullptr : name.c_str();
  so.start = static_cast<mmbus_start_t>(info[2].As<Napi::Number>().Int32Value());
  so.spin_us = info[3].As<Napi::Number>().Int32Value();
  so.coalesce_us = info[4].As<Napi::Number>().Int32Value();
  mmbus_sub_t *sub = nullptr;
  int rc = mmbus_subscribe(c->ch, &so, &sub);
  if (rc) return Code(env, rc);
  auto *s = new Sub();
  s->sub = sub;
  s->owner = c;
  c->open_subs++;
  s->tsfn = Napi::ThreadSafeFunction::New(
      env, Napi::Function::New(env, [](const Napi::CallbackInfo &) {}), "mmbus-waiter", 0, 1,
      [](Napi::Env, Sub *s) { Unref(s); }, s);  // after the last queued call has run
  s->tsfn.Unref(env);  // an idle subscriber does not keep the process alive; an armed wait does
  s->thread = std::thread(WaiterLoop, s);
  return Napi::External<Sub>::New(env, s, [](Napi::Env, Sub *s) {
    CloseSub(s);
    Unref(s);
  });
}

// JavaScript uses the mmbus_sub_t only while no wait is armed: the waiter thread reads its cursor.
bool Armed(Sub *s) { return s->armed.load(std::memory_order_acquire); }

int Busy() { return Fail(MMBUS_E_STATE, "a wait of this subscriber is in progress (iterate or poll, not both at once)"); }

Napi::Value SubClose(const Napi::CallbackInfo &info) {
  Sub *s = SubOf(info[0]);
  if (!s || s->closed) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "subscriber is closed"));
  CloseSub(s);
  return Code(info.Env(), 0);
}

// The optional last argument of poll/pollCopy: acknowledge the batch polled last first, in the same
// call (one native call per batch instead of two). mmbus_ack's result: a failed ack's code, or how
// many records of the batch were overwritten before it was acknowledged. Either way nothing is polled
// then: after such an ack a keyed subscriber may owe its keys' values again, and those snapshot values
// come before any poll (mmbus_poll refuses while they are pending). The poll returns 0 with
// out[0] = ACKED_WITH_LOSS (out[1] the lost count), and JavaScript takes the snapshot values, then polls.
constexpr double ACKED_WITH_LOSS = -1;

int AckFirst(bool ackFirst, Sub *s, double *out) {
  int rc = ackFirst ? mmbus_ack(s->sub) : 0;
  if (rc > 0) {
    out[0] = ACKED_WITH_LOSS;
    out[1] = static_cast<double>(mmbus_sub_lost(s->sub));
  }
  return rc;
}

// A raw call on a subscriber: its arguments, and the subscriber (the first) open and not waiting;
// else nullptr and *rc says why.
template <size_t N>
Sub *RawSubCall(napi_env env, napi_callback_info info, napi_value (&argv)[N], int *rc) {
  RawArgs(env, info, argv);
  Sub *s = ExternalOf<Sub>(env, argv[0]);
  if (!s || s->closed) *rc = Fail(MMBUS_E_CLOSED, "subscriber is closed");
  else if (Armed(s)) *rc = Busy();
  else return s;
  return nullptr;
}

// poll(sub, max, out: Float64Array[2], ackFirst?) -> count | negative code; out = [first sequence, lost]
// (a plain Node-API callback: see RawArgs)
napi_value Poll(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int rc = 0;
  Sub *s = RawSubCall(env, info, argv, &rc);
  if (!s) return RawNumber(env, rc);
  bool ackFirst = false;
  if (argv[3]) napi_get_value_bool(env, argv[3], &ackFirst);  // not a boolean: false
  uint32_t max = 0;
  napi_typedarray_type type;
  size_t length = 0;
  void *out = nullptr;
  if (napi_get_value_uint32(env, argv[1], &max) != napi_ok ||
      napi_get_typedarray_info(env, argv[2], &type, &length, &out, nullptr, nullptr) != napi_ok ||
      type != napi_float64_array || length < 2)
    return RawNumber(env, Fail(MMBUS_E_INVAL, "poll(sub, max, out: Float64Array[2], ackFirst?)"));
  if ((rc = AckFirst(ackFirst, s, static_cast<double *>(out))) != 0) return RawNumber(env, rc < 0 ? rc : 0);
  mmbus_batch_t &b = s->batch;
  int n = mmbus_poll(s->sub, max, &b);
  static_cast<double *>(out)[0] = static_cast<double>(b.seq);
  static_cast<double *>(out)[1] = static_cast<double>(mmbus_sub_lost(s->sub));
  return RawNumber(env, n);
}

// pollCopy(sub, max, out: Float64Array[3], dst: Uint8Array, ackFirst?) -> count: like poll, but the
// records are copied to dst (record i at i * stride); out = [first sequence, lost, overwritten while copying].
Napi::Value PollCopy(const Napi::CallbackInfo &info) {
  Sub *s = SubOf(info[0]);
  if (!s || s->closed) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "subscriber is closed"));
  if (Armed(s)) return Code(info.Env(), Busy());
  uint32_t max = info[1].As<Napi::Number>().Uint32Value();
  Napi::Float64Array out = info[2].As<Napi::Float64Array>();
  if (int rc = AckFirst(info.Length() > 4 && info[4].ToBoolean(), s, out.Data())) {
    out[2] = 0;
    return Code(info.Env(), rc < 0 ? rc : 0);
  }
  Napi::TypedArray dst = info[3].As<Napi::TypedArray>();
  uint8_t *to = static_cast<uint8_t *>(dst.ArrayBuffer().Data()) + dst.ByteOffset();
  mmbus_batch_t &b = s->batch;
  int n = mmbus_poll(s->sub, max, &b);
  if (n > 0) {
    if (static_cast<size_t>(n) * b.stride > dst.ByteLength()) return Code(info.Env(), Fail(MMBUS_E_TOOBIG, "copy buffer too small"));
    for (int i = 0; i < n; i++) memcpy(to + static_cast<size_t>(i) * b.stride, mmbus_batch_record(&b, i), b.stride);
    out[2] = static_cast<double>(mmbus_sub_overrun(s->sub));
  } else {
    out[2] = 0;
  }
  out[0] = static_cast<double>(b.seq);
  out[1] = static_cast<double>(mmbus_sub_lost(s->sub));
  return Napi::Number::New(info.Env(), n);
}

// ---- keyed channels ----

template <typename T>
T *Elements(const Napi::Value &v, size_t *count) {
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  *count = ta.ElementLength();
  return reinterpret_cast<T *>(static_cast<uint8_t *>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
}

// latest(handle, keys: Uint32Array, dst: Uint8Array, seqs: Float64Array) -> records found | negative
// code: the latest record of keys[i] to dst at i * stride, its sequence to seqs[i] (-1: none yet).
Napi::Value Latest(const Napi::CallbackInfo &info) {
  Channel *c = ChannelOf(info[0]);
  if (!c || !c->ch) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "channel is closed"));
  if (!info[1].IsTypedArray() || !info[2].IsTypedArray() || !info[3].IsTypedArray())
    return Code(info.Env(), Fail(MMBUS_E_INVAL, "latest(handle, keys, dst, seqs)"));
  size_t nkeys, dstLen, nseqs;
  const uint32_t *keys = Elements<uint32_t>(info[1], &nkeys);
  uint8_t *dst = Elements<uint8_t>(info[2], &dstLen);
  double *seqs = Elements<double>(info[3], &nseqs);
  if (nseqs < nkeys || dstLen < nkeys * c->record_stride) return Code(info.Env(), Fail(MMBUS_E_TOOBIG, "buffers too small"));
  int found = 0;
  for (size_t i = 0; i < nkeys; i++) {
    uint64_t seq;
    int rc = mmbus_latest(c->ch, keys[i], dst + i * c->record_stride, c->record_size, &seq);
    if (rc == MMBUS_E_NOENT) {
      seqs[i] = -1;
      continue;
    }
    if (rc) return Code(info.Env(), rc);
    seqs[i] = static_cast<double>(seq);
    found++;
  }
  return Napi::Number::New(info.Env(), found);
}

bool KeyArgs(const Napi::CallbackInfo &info, uint64_t *first, uint64_t *count) {
  if (!info[1].IsNumber() || !info[2].IsNumber()) return false;
  double f = info[1].As<Napi::Number>().DoubleValue(), n = info[2].As<Napi::Number>().DoubleValue();
  if (!(f >= 0 && n >= 0 && f <= 9007199254740991.0 && n <= 9007199254740991.0) || f != static_cast<double>(static_cast<uint64_t>(f)) ||
      n != static_cast<double>(static_cast<uint64_t>(n)))
    return false;
  *first = static_cast<uint64_t>(f);
  *count = static_cast<uint64_t>(n);
  return true;
}

// ask(sub, first, count, snapshot: 0 none | 1 all | 2 changed) / unask(sub, first, count)
Napi::Value Ask(const Napi::CallbackInfo &info) {
  Sub *s = SubOf(info[0]);
  if (!s || s->closed) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "subscriber is closed"));
  if (Armed(s)) return Code(info.Env(), Busy());
  uint64_t first, count;
  if (!KeyArgs(info, &first, &count)) return Code(info.Env(), Fail(MMBUS_E_INVAL, "keys must be non-negative integers"));
  return Code(info.Env(), mmbus_sub_ask(s->sub, first, count, info[3].As<Napi::Number>().Int32Value()));
}

Napi::Value Unask(const Napi::CallbackInfo &info) {
  Sub *s = SubOf(info[0]);
  if (!s || s->closed) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "subscriber is closed"));
  if (Armed(s)) return Code(info.Env(), Busy());
  uint64_t first, count;
  if (!KeyArgs(info, &first, &count)) return Code(info.Env(), Fail(MMBUS_E_INVAL, "keys must be non-negative integers"));
  return Code(info.Env(), mmbus_sub_unask(s->sub, first, count));
}

// snapshot(sub, dst: Uint8Array, keys: Uint32Array, seqs: Float64Array) -> values taken (up to the
// length of keys) | negative code: pending snapshot values, value i to dst at i * stride.
Napi::Value Snapshot(const Napi::CallbackInfo &info) {
  Sub *s = SubOf(info[0]);
  if (!s || s->closed) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "subscriber is closed"));
  if (Armed(s)) return Code(info.Env(), Busy());
  size_t dstLen, nkeys, nseqs;
  uint8_t *dst = Elements<uint8_t>(info[1], &dstLen);
  uint32_t *keys = Elements<uint32_t>(info[2], &nkeys);
  double *seqs = Elements<double>(info[3], &nseqs);
  Channel *c = s->owner;
  size_t max = nkeys < nseqs ? nkeys : nseqs;
  if (dstLen / c->record_stride < max) max = dstLen / c->record_stride;
  size_t n = 0;
  while (n < max) {
    uint64_t key, seq;
    int rc = mmbus_sub_snapshot(s->sub, dst + n * c->record_stride, c->record_size, &key, &seq);
    if (rc < 0) return Code(info.Env(), rc);
    if (rc == 0) break;
    keys[n] = static_cast<uint32_t>(key);
    seqs[n] = static_cast<double>(seq);
    n++;
  }
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// wants(sub, idx: Uint32Array) -> how many: the indices of the last polled batch's records that the
// subscriber asked for and has not had yet, in order.
napi_value Wants(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int rc = 0;
  Sub *s = RawSubCall(env, info, argv, &rc);
  if (!s) return RawNumber(env, rc);
  napi_typedarray_type type;
  size_t cap = 0;
  void *data = nullptr;
  if (napi_get_typedarray_info(env, argv[1], &type, &cap, &data, nullptr, nullptr) != napi_ok || type != napi_uint32_array)
    return RawNumber(env, Fail(MMBUS_E_INVAL, "wants(sub, idx: Uint32Array)"));
  if (cap < s->batch.n) return RawNumber(env, Fail(MMBUS_E_TOOBIG, "index buffer too small"));
  uint32_t *idx = static_cast<uint32_t *>(data);
  uint32_t m = 0;
  for (uint32_t i = 0; i < s->batch.n; i++) {
    int w = mmbus_sub_wants(s->sub, &s->batch, i);
    if (w < 0) return RawNumber(env, w);
    if (w) idx[m++] = i;
  }
  return RawNumber(env, m);
}

Napi::Value Ack(const Napi::CallbackInfo &info) {
  Sub *s = SubOf(info[0]);
  if (!s || s->closed) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "subscriber is closed"));
  if (Armed(s)) return Code(info.Env(), Busy());
  if (info.Length() > 1 && info[1].IsNumber()) return Code(info.Env(), mmbus_ack_n(s->sub, info[1].As<Napi::Number>().Uint32Value()));
  return Code(info.Env(), mmbus_ack(s->sub));
}

Napi::Value Overrun(const Napi::CallbackInfo &info) {
  Sub *s = SubOf(info[0]);
  if (!s || s->closed) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "subscriber is closed"));
  if (Armed(s)) return Code(info.Env(), Busy());
  return Napi::Number::New(info.Env(), mmbus_sub_overrun(s->sub));
}

Napi::Value Heartbeat(const Napi::CallbackInfo &info) {
  Sub *s = SubOf(info[0]);
  if (!s || s->closed) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "subscriber is closed"));
  std::lock_guard<std::mutex> lock(s->mu);
  if (s->armed) return Code(info.Env(), 0);  // the waiter thread heartbeats while it waits
  return Code(info.Env(), mmbus_sub_heartbeat(s->sub));
}

Napi::Value SubLost(const Napi::CallbackInfo &info) {
  Sub *s = SubOf(info[0]);
  if (!s || s->closed) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "subscriber is closed"));
  return Napi::Number::New(info.Env(), static_cast<double>(mmbus_sub_lost(s->sub)));
}

// wait(sub, timeoutMs, callback(rc, detail)): the waiter thread sleeps until a record is there.
Napi::Value Wait(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Sub *s = SubOf(info[0]);
  if (!s || s->closed) return Code(env, Fail(MMBUS_E_CLOSED, "subscriber is closed"));
  if (!info[2].IsFunction()) return Code(env, Fail(MMBUS_E_INVAL, "wait needs a callback"));
  {
    std::lock_guard<std::mutex> lock(s->mu);
    if (s->armed.load(std::memory_order_relaxed)) return Code(env, Fail(MMBUS_E_STATE, "a wait is already in progress"));
    s->armed.store(true, std::memory_order_release);
    s->timeout_ms = info[1].As<Napi::Number>().Int64Value();
  }
  // The callback is called through a fresh thread-safe function call; keep it referenced.
  s->callback = Napi::Persistent(info[2].As<Napi::Function>());
  s->tsfn.Ref(env);
  s->cv.notify_all();
  return Code(env, 0);
}

Napi::Value Interrupt(const Napi::CallbackInfo &info) {
  Sub *s = SubOf(info[0]);
  if (!s || s->closed) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "subscriber is closed"));
  return Code(info.Env(), mmbus_sub_interrupt(s->sub));
}

Napi::Value Unlink(const Napi::CallbackInfo &info) {
  if (!info[0].IsString() || !info[1].IsString()) return Code(info.Env(), Fail(MMBUS_E_INVAL, "unlink(dir, name)"));
  std::string dir, name;
  if (!CString(info[0], &dir)) return Code(info.Env(), Fail(MMBUS_E_DIR, "the directory contains a NUL byte"));
  if (!CString(info[1], &name)) return Code(info.Env(), Fail(MMBUS_E_NAME, "channel name contains a NUL byte"));
  return Code(info.Env(), mmbus_unlink(dir.c_str(), name.c_str()));
}

// verify(handle) -> { problems, first } | negative code
Napi::Value Verify(const Napi::CallbackInfo &info) {
  Channel *c = ChannelOf(info[0]);
  if (!c || !c->ch) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "channel is closed"));
  char buf[512];
  int n = mmbus_verify(c->ch, buf, sizeof buf);
  if (n < 0) return Code(info.Env(), n);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("problems", n);
  o.Set("first", buf);
  return o;
}

Napi::Value Check(const Napi::CallbackInfo &info) {
  Channel *c = ChannelOf(info[0]);
  if (!c || !c->ch) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "channel is closed"));
  return Code(info.Env(), mmbus_check(c->ch));
}

// layout(handle) -> the file's record layout description ('' when it has none) | negative code
Napi::Value Layout(const Napi::CallbackInfo &info) {
  Channel *c = ChannelOf(info[0]);
  if (!c || !c->ch) return Code(info.Env(), Fail(MMBUS_E_CLOSED, "channel is closed"));
  mmbus_info_t in;
  mmbus_info(c->ch, &in);
  std::string buf(static_cast<size_t>(in.layout_size), '\0');
  size_t size = 0;
  int rc = mmbus_layout(c->ch, buf.data(), buf.size(), &size);
  if (rc) return Code(info.Env(), rc);
  return Napi::String::New(info.Env(), buf.data(), size);
}

// defaultDir() -> string | negative code
Napi::Value DefaultDir(const Napi::CallbackInfo &info) {
  char buf[MMBUS_PATH_MAX + 1];
  int rc = mmbus_default_dir(buf, sizeof buf);
  if (rc) return Code(info.Env(), rc);
  return Napi::String::New(info.Env(), buf);
}

Napi::Value CheckName(const Napi::CallbackInfo &info) {
  std::string name;
  if (!info[0].IsString() || !CString(info[0], &name)) return Code(info.Env(), Fail(MMBUS_E_NAME, "a channel name is a string without NUL bytes"));
  return Code(info.Env(), mmbus_check_name(name.c_str()));
}

Napi::Value Errno(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), mmbus_errno()); }

// errorCodes() -> [{ code, name, text }]: the one list in mmbus.h, for the TS layer's tests
Napi::Value ErrorCodes(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  struct Row {
    int code;
    const char *name, *text;
  };
  static const Row rows[] = {
#define ROW(name, value, text) {value, #name, text},
      MMBUS_ERRORS(ROW)
#undef ROW
  };
  Napi::Array arr = Napi::Array::New(env, sizeof rows / sizeof rows[0]);
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("code", rows[i].code);
    e.Set("name", rows[i].name);
    e.Set("text", rows[i].text);
    arr.Set(static_cast<uint32_t>(i), e);
  }
  return arr;
}

Napi::Value Version(const Napi::CallbackInfo &info) { return Napi::String::New(info.Env(), mmbus_version()); }

Napi::Value ErrMsg(const Napi::CallbackInfo &info) { return Napi::String::New(info.Env(), mmbus_errmsg()); }
Napi::Value ErrName(const Napi::CallbackInfo &info) {
  return Napi::String::New(info.Env(), mmbus_errname(info[0].As<Napi::Number>().Int32Value()));
}
Napi::Value StrError(const Napi::CallbackInfo &info) {
  return Napi::String::New(info.Env(), mmbus_strerror(info[0].As<Napi::Number>().Int32Value()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("open", Napi::Function::New(env, Open));
  exports.Set("close", Napi::Function::New(env, Close));
  exports.Set("layout", Napi::Function::New(env, Layout));
  exports.Set("stage", Napi::Function::New(env, Stage));
  for (auto [name, fn] : {std::pair<const char *, napi_callback>{"poll", Poll}, {"wants", Wants}}) {
    napi_value f = nullptr;
    NAPI_THROW_IF_FAILED(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, nullptr, &f), exports);
    exports.Set(name, Napi::Value(env, f));
  }
  exports.Set("claim", Napi::Function::New(env, Claim));
  exports.Set("commit", Napi::Function::New(env, Commit));
  exports.Set("commitFrom", Napi::Function::New(env, CommitFrom));
  exports.Set("pollCopy", Napi::Function::New(env, PollCopy));
  exports.Set("flush", Napi::Function::New(env, Flush));
  exports.Set("stats", Napi::Function::New(env, Stats));
  exports.Set("gc", Napi::Function::New(env, Gc));
  exports.Set("head", Napi::Function::New(env, Head));
  exports.Set("read", Napi::Function::New(env, Read));
  exports.Set("subscribe", Napi::Function::New(env, Subscribe));
  exports.Set("subClose", Napi::Function::New(env, SubClose));
  exports.Set("ack", Napi::Function::New(env, Ack));
  exports.Set("latest", Napi::Function::New(env, Latest));
  exports.Set("ask", Napi::Function::New(env, Ask));
  exports.Set("unask", Napi::Function::New(env, Unask));
  exports.Set("snapshot", Napi::Function::New(env, Snapshot));
  exports.Set("heartbeat", Napi::Function::New(env, Heartbeat));
  exports.Set("overrun", Napi::Function::New(env, Overrun));
  exports.Set("lost", Napi::Function::New(env, SubLost));
  exports.Set("wait", Napi::Function::New(env, Wait));
  exports.Set("interrupt", Napi::Function::New(env, Interrupt));
  exports.Set("unlink", Napi::Function::New(env, Unlink));
  exports.Set("check", Napi::Function::New(env, Check));
  exports.Set("verify", Napi::Function::New(env, Verify));
  exports.Set("defaultDir", Napi::Function::New(env, DefaultDir));
  exports.Set("errno", Napi::Function::New(env, Errno));
  exports.Set("checkName", Napi::Function::New(env, CheckName));
  exports.Set("errorCodes", Napi::Function::New(env, ErrorCodes));
  exports.Set("version", Napi::Function::New(env, Version));
  exports.Set("errmsg", Napi::Function::New(env, ErrMsg));
  exports.Set("errname", Napi::Function::New(env, ErrName));
  exports.Set("strerror", Napi::Function::New(env, StrError));
  // What JavaScript compares native results with, defined here once
  Napi::Object constants = Napi::Object::New(env);
  constants.Set("waitInterrupted", Napi::Number::New(env, MMBUS_E_INTR));
  constants.Set("ackedWithLoss", Napi::Number::New(env, ACKED_WITH_LOSS));
  constants.Set("spinNone", Napi::Number::New(env, MMBUS_SPIN_NONE));
  constants.Set("spinMaxUs", Napi::Number::New(env, MMBUS_SPIN_MAX_US));
  constants.Set("coalesceMaxUs", Napi::Number::New(env, MMBUS_COALESCE_MAX_US));
  exports.Set("constants", constants);
  return exports;
}

}  // namespace

NODE_API_MODULE(mmbus, Init)
