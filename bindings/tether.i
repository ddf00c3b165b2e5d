/*
 * tether.i - the SWIG interface of tether for Perl (module Tether::Raw).
 *
 * Nothing here repeats a declaration of include/tether.h: the header is
 * %included whole, and what SWIG cannot guess is said with typemaps keyed on
 * the header's own parameter names:
 *
 *   input buffers     (const void *data, size_t len) and the like take a Perl
 *                     byte string (SvPVbyte: a string with characters above
 *                     255 is refused with "Wide character");
 *   output buffers    (const char **out, size_t *len), (uint8_t *out, size_t
 *                     cap, size_t *written) ... come back as extra return
 *                     values, after the C return value;
 *   out-pointers      tether_conn **out, tether_listener **out and
 *                     tether_event **ev come back the same way;
 *                     tether_listen() adds errno after the listener (the
 *                     OS's reason when it failed, else 0);
 *   the log callback  tether_set_log_callback(CODE_REF) through a C
 *                     trampoline that calls the code ref with call_sv;
 *   a delay table     tether_opts_set_retry_steps(opts, [ms, ...], jitter,
 *                     max_tries): an array reference.
 *
 * So, in Perl:
 *   my ($rc, $conn) = Tether::Raw::tether_connect($ctx, $url, $opts);
 *   my ($rc, $ev)   = Tether::Raw::tether_next_event($ctx, 1000);
 *   my $bytes       = Tether::Raw::tether_event_data($ev);
 *
 * A few helpers for the Perl modules follow the header, all named
 * tether_pl_*: they batch what the high-level layer does per event (one call
 * instead of six), which is where a binding spends its time.
 */
%module "Tether::Raw"

%{
#include "tether.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
%}

%include <stdint.i>
%include <typemaps.i>

/* ---- Input buffers: a Perl byte string -------------------------------- */

%typemap(in) (const void *data, size_t len), (const void *payload, size_t len),
             (const void *s, size_t len), (const void *in, size_t len),
             (const uint8_t *buf, size_t len), (const uint8_t *payload, size_t len),
             (const char *reason, size_t reason_len), (const char *key, size_t key_len),
             (const void *body, size_t len) {
    STRLEN n = 0;
    if (!SvOK($input)) {
        $1 = NULL;
        $2 = 0;
    } else {
        $1 = ($1_ltype)SvPVbyte($input, n);
        $2 = ($2_ltype)n;
    }
}

/* The frame parser unmasks in place, as in C: the Perl scalar passed is
 * modified (payload bytes unmasked) and must be writable. */
%typemap(in) (uint8_t *buf, size_t len) {
    STRLEN n = 0;
    if (SvREADONLY($input))
        croak("tether_parser_next: the buffer must be a writable scalar");
    $1 = (uint8_t *)SvPVbyte_force($input, n);
    $2 = n;
}

/* A 4-byte masking key: a string of exactly 4 bytes (or undef where the
 * header allows NULL: unmasked). */
%typemap(in) const uint8_t key[4] {
    STRLEN n = 0;
    $1 = (uint8_t *)SvPVbyte($input, n);
    if (n != 4)
        croak("a masking key is 4 bytes");
}
%typemap(in) const uint8_t *mask_key {
    STRLEN n = 0;
    if (!SvOK($input)) {
        $1 = NULL;
    } else {
        $1 = (uint8_t *)SvPVbyte($input, n);
        if (n != 4)
            croak("a masking key is 4 bytes");
    }
}

/* ---- Output buffers ----------------------------------------------------- */

/* Pointer + length the library owns: copied into a new Perl string (undef
 * when the pointer is NULL). */
%typemap(in, numinputs=0) (const char **out, size_t *len) (const char *p = NULL, size_t n = 0),
                          (const uint8_t **out, size_t *out_len) (const uint8_t *p = NULL, size_t n = 0),
                          (const uint8_t **data, size_t *data_len) (const uint8_t *p = NULL, size_t n = 0),
                          (const char **reason, size_t *reason_len) (const char *p = NULL, size_t n = 0) {
    $1 = ($1_ltype)&p;
    $2 = &n;
}
%typemap(argout) (const char **out, size_t *len), (const uint8_t **out, size_t *out_len),
                 (const uint8_t **data, size_t *data_len), (const char **reason, size_t *reason_len) {
    if (argvi >= items) EXTEND(sp, argvi + 1);
    $result = *$1 ? sv_2mortal(newSVpvn((const char *)*$1, *$2)) : &PL_sv_undef;
    argvi++;
}

/* Functions that return a pointer and its length through `size_t *len`
 * (tether_event_data, tether_event_close_reason, tether_parser_close_reason)
 * return one Perl string, built once the length is known. */
%typemap(in, numinputs=0) size_t *len (size_t n = 0) {
    $1 = &n;
}
%typemap(out) const uint8_t *tether_event_data, const char *tether_event_close_reason,
              const char *tether_parser_close_reason, const uint8_t *tether_ws_output "";
%typemap(argout) size_t *len {
    /* _Generic: a function of the header that returns anything but a
     * string pointer with a `size_t *len` does not compile here (rather
     * than being misread at run time); give it a typemap of its own. */
    const char *p_$argnum = _Generic((result), char *: (const char *)(result),
                                     const char *: (const char *)(result),
                                     uint8_t *: (const char *)(result),
                                     const uint8_t *: (const char *)(result));
    if (argvi >= items) EXTEND(sp, argvi + 1);
    $result = p_$argnum ? sv_2mortal(newSVpvn(p_$argnum, *$1)) : &PL_sv_undef;
    argvi++;
}

/* A buffer the caller sizes: pass the capacity, get the bytes written. */
%typemap(in) (uint8_t *out, size_t cap, size_t *written) (SV *buf = NULL, size_t n = 0) {
    UV cap = SvUV($input);
    buf = sv_2mortal(newSV(cap ? cap : 1));
    SvPOK_on(buf);
    $1 = (uint8_t *)SvPVX(buf);
    $2 = (size_t)cap;
    $3 = &n;
}
%typemap(argout) (uint8_t *out, size_t cap, size_t *written) {
    if (argvi >= items) EXTEND(sp, argvi + 1);
    if (result == 0) {
        SvCUR_set(buf$argnum, *$3);
        $result = buf$argnum;
    } else {
        $result = &PL_sv_undef;
    }
    argvi++;
}

/* A frame header: at most TETHER_MAX_FRAME_HEADER bytes; the function
 * returns its size. */
%typemap(in, numinputs=0) (uint8_t *out, size_t cap) (uint8_t hdr[TETHER_MAX_FRAME_HEADER]) {
    $1 = hdr;
    $2 = sizeof(hdr);
}
%typemap(argout) (uint8_t *out, size_t cap) {
    if (argvi >= items) EXTEND(sp, argvi + 1);
    $result = result > 0 ? sv_2mortal(newSVpvn((const char *)$1, (STRLEN)result)) : &PL_sv_undef;
    argvi++;
}

/* Extension header values (tether_pmd_offer, tether_pmd_negotiate). */
%typemap(in, numinputs=0) (char *out, size_t cap, size_t *len) (char text[1024], size_t n = 0) {
    $1 = text;
    $2 = sizeof(text);
    $3 = &n;
}
%typemap(argout) (char *out, size_t cap, size_t *len) {
    if (argvi >= items) EXTEND(sp, argvi + 1);
    $result = result >= 0 ? sv_2mortal(newSVpvn($1, *$3)) : &PL_sv_undef;
    argvi++;
}

/* Keys: tether_handshake_key(), tether_handshake_accept_key(). */
%typemap(in, numinputs=0) char out[ANY] (char text[$1_dim0]) {
    memset(text, 0, sizeof(text));
    $1 = text;
}
%typemap(argout) char out[ANY] {
    if (argvi >= items) EXTEND(sp, argvi + 1);
    $result = result == 0 ? sv_2mortal(newSVpv($1, 0)) : &PL_sv_undef;
    argvi++;
}

/* tether_random_bytes(LENGTH) and tether_mask(SRC, KEY, OFFSET) return the
 * bytes as a second value. */
%typemap(in) (void *buf, size_t len) (SV *out = NULL) {
    UV n = SvUV($input);
    out = sv_2mortal(newSV(n ? n : 1));
    SvPOK_on(out);
    SvCUR_set(out, n);
    $1 = SvPVX(out);
    $2 = (size_t)n;
}
%typemap(argout) (void *buf, size_t len) {
    if (argvi >= items) EXTEND(sp, argvi + 1);
    $result = result == 0 ? out$argnum : &PL_sv_undef;
    argvi++;
}
%typemap(in) (void *dst, const void *src, size_t len) (SV *out = NULL, STRLEN n = 0) {
    $2 = SvPVbyte($input, n);
    $3 = n;
    out = sv_2mortal(newSV(n ? n : 1));
    SvPOK_on(out);
    SvCUR_set(out, n);
    $1 = SvPVX(out);
}
%typemap(argout) (void *dst, const void *src, size_t len) {
    if (argvi >= items) EXTEND(sp, argvi + 1);
    $result = result == 0 ? out$argnum : &PL_sv_undef;
    argvi++;
}

/* Counters and small out-values. */
%typemap(in, numinputs=0) size_t *consumed (size_t n = 0) {
    $1 = &n;
}
%typemap(argout) size_t *consumed {
    if (argvi >= items) EXTEND(sp, argvi + 1);
    $result = sv_2mortal(newSVuv(*$1));
    argvi++;
}
%apply int *OUTPUT { int *code };
/* The incremental UTF-8 state goes in and comes back out. */
%typemap(in) uint32_t *state (uint32_t st = 0) {
    st = (uint32_t)SvUV($input);
    $1 = &st;
}
%typemap(argout) uint32_t *state {
    if (argvi >= items) EXTEND(sp, argvi + 1);
    $result = sv_2mortal(newSVuv(*$1));
    argvi++;
}
%typemap(in, numinputs=0) const char **name (const char *p = NULL), const char **value (const char *p = NULL) {
    $1 = ($1_ltype)&p;
}
%typemap(argout) const char **name, const char **value {
    if (argvi >= items) EXTEND(sp, argvi + 1);
    $result = *$1 ? sv_2mortal(newSVpv(*$1, 0)) : &PL_sv_undef;
    argvi++;
}

/* Objects created through an out-pointer. */
%typemap(in, numinputs=0) tether_conn **out (tether_conn *p = NULL),
                          tether_listener **out (tether_listener *p = NULL),
                          tether_event **ev (tether_event *p = NULL) {
    $1 = ($1_ltype)&p;
}
%typemap(argout) tether_conn **out, tether_listener **out, tether_event **ev {
    if (argvi >= items) EXTEND(sp, argvi + 1);
    $result = sv_newmortal();
    if (*$1)
        SWIG_MakePtr($result, (void *)*$1, $*1_descriptor, 0);
    else
        sv_setsv($result, &PL_sv_undef);
    argvi++;
}
/* A listener that could not be made says why in errno (EADDRINUSE...):
 * read here, next to the call, as Perl's own work could change it before
 * $! is looked at. */
%typemap(argout) tether_listener **out {
    int why = result < 0 ? errno : 0;
    if (argvi + 1 >= items) EXTEND(sp, argvi + 2);
    $result = sv_newmortal();
    if (*$1)
        SWIG_MakePtr($result, (void *)*$1, $*1_descriptor, 0);
    else
        sv_setsv($result, &PL_sv_undef);
    argvi++;
    $result = sv_2mortal(newSViv(why));
    argvi++;
}

/* A table of retry delays (tether_opts_set_retry_steps): an array ref of
 * milliseconds. */
%typemap(in) (const unsigned *steps_ms, size_t n) (SV *tab = NULL) {
    AV *av;
    SSize_t i, count;
    if (!SvROK($input) || SvTYPE(SvRV($input)) != SVt_PVAV)
        croak("tether_opts_set_retry_steps: an array reference of milliseconds is expected");
    av = (AV *)SvRV($input);
    count = av_top_index(av) + 1;
    tab = sv_2mortal(newSV(count > 0 ? (STRLEN)count * sizeof(unsigned) : 1));
    for (i = 0; i < count; i++) {
        SV **e = av_fetch(av, i, 0);
        ((unsigned *)SvPVX(tab))[i] = e && SvOK(*e) ? (unsigned)SvUV(*e) : 0;
    }
    $1 = (unsigned *)SvPVX(tab);
    $2 = (size_t)count;
}

/* ---- The log callback: a Perl code ref through a C trampoline ----------- */

%{
/* The code ref in force (a counted copy), or NULL. */
static SV *tether_pl_log_cv = NULL;

static void tether_pl_log_trampoline(int level, const char *line, void *user)
{
    dTHX;
    dSP;
    SV *cv = (SV *)user;
    if (!cv)
        return;
    /* At global destruction (objects freed late) Perl code may be gone. */
    if (PL_phase == PERL_PHASE_DESTRUCT) {
        fprintf(stderr, "tether: %s\n", line);
        return;
    }
    ENTER;
    SAVETMPS;
    PUSHMARK(SP);
    XPUSHs(sv_2mortal(newSViv(level)));
    XPUSHs(sv_2mortal(newSVpv(line, 0)));
    PUTBACK;
    /* G_EVAL: a die in the Perl sub must not unwind through the library. */
    call_sv(cv, G_DISCARD | G_EVAL);
    SPAGAIN;
    if (SvTRUE(ERRSV))
        warn("tether: the log callback died: %" SVf, SVfARG(ERRSV));
    PUTBACK;
    FREETMPS;
    LEAVE;
}
%}

%typemap(in) (tether_log_cb cb, void *user) (SV *old = NULL) {
    old = tether_pl_log_cv;
    if (!SvOK($input)) {
        tether_pl_log_cv = NULL;
        $1 = NULL;
        $2 = NULL;
    } else {
        if (!SvROK($input) || SvTYPE(SvRV($input)) != SVt_PVCV)
            croak("tether_set_log_callback: a code reference or undef is expected");
        tether_pl_log_cv = newSVsv($input);
        $1 = tether_pl_log_trampoline;
        $2 = tether_pl_log_cv;
    }
}
%typemap(argout) (tether_log_cb cb, void *user) {
    /* The library no longer holds the previous code ref. */
    if (old$argnum)
        SvREFCNT_dec(old$argnum);
}

/* ---- The header itself -------------------------------------------------- */

%include "tether_version.h"
%include "tether.h"

/* ---- Helpers for the Perl modules (not part of the C API) --------------- */

%{
#include <stddef.h>

static SV *tether_pl_conn_sv(pTHX_ tether_conn *c)
{
    SV *sv = newSV(0);
    SWIG_MakePtr(sv, (void *)c, SWIGTYPE_p_tether_conn, 0);
    return sv;
}

/* tether_conn_stats() as a hash of the struct's field names (a new
 * reference), or undef when the library refuses. */
static SV *tether_pl_stats_sv(pTHX_ const tether_conn *c)
{
#define TETHER_PL_STAT(f) { #f, offsetof(tether_stats, f) }
    static const struct { const char *name; size_t off; } fields[] = {
        TETHER_PL_STAT(resolve_us), TETHER_PL_STAT(connect_us), TETHER_PL_STAT(proxy_us),
        TETHER_PL_STAT(tls_us), TETHER_PL_STAT(handshake_us), TETHER_PL_STAT(rtt_us),
        TETHER_PL_STAT(rtt_min_us), TETHER_PL_STAT(rtt_max_us), TETHER_PL_STAT(rtt_samples),
        TETHER_PL_STAT(wire_in), TETHER_PL_STAT(wire_out), TETHER_PL_STAT(messages_in),
        TETHER_PL_STAT(messages_out), TETHER_PL_STAT(payload_in), TETHER_PL_STAT(payload_out),
        TETHER_PL_STAT(reconnects),
    };
#undef TETHER_PL_STAT
    tether_stats st;
    HV *hv;
    if (!c || tether_conn_stats(c, &st, sizeof st) != 0)
        return newSV(0);
    hv = newHV();
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        uint64_t v;
        memcpy(&v, (const char *)&st + fields[i].off, sizeof v);
        (void)hv_store(hv, fields[i].name, (I32)strlen(fields[i].name), newSVuv((UV)v), 0);
    }
    return newRV_noinc((SV *)hv);
}

/* One event as a Perl array: [type, conn id, ...]. The event is released
 * here, except a REQUEST, which is returned with the connection and the
 * event objects so that Perl can accept or reject before releasing it,
 * and, when hold_closed is set, a CLOSED, returned with the event object
 * last: its connection stays valid until Perl releases it, so that events
 * for that connection earlier in the same batch can still use it.
 * CLOSED is [type, id, code, reason, clean, error, error text, HTTP status,
 * OS errno (0: none), statistics (a hash ref, the connection's last
 * figures), held event]. RETRY carries what CLOSED would have said, then the
 * delay (ms) and the attempt number: [type, id, code, reason, clean, error,
 * error text, HTTP status, OS errno, delay, attempt]. */
static SV *tether_pl_event_av(pTHX_ tether_event *ev, int hold_closed)
{
    AV *av = newAV();
    int type = tether_event_type_of(ev);
    tether_conn *c = tether_event_conn(ev);
    const uint8_t *data;
    size_t len = 0;
    SV *sv;
    int release = 1;

    av_extend(av, 10);
    av_push(av, newSViv(type));
    av_push(av, newSVuv(c ? (UV)tether_conn_id(c) : 0));
    switch (type) {
    case TETHER_EV_REQUEST:
    case TETHER_EV_HTTP: /* held until answered, like a REQUEST */
        av_push(av, tether_pl_conn_sv(aTHX_ c));
        sv = newSV(0);
        SWIG_MakePtr(sv, (void *)ev, SWIGTYPE_p_tether_event, 0);
        av_push(av, sv);
        release = 0;
        break;
    case TETHER_EV_MESSAGE:
    case TETHER_EV_FRAGMENT:
        data = tether_event_data(ev, &len);
        av_push(av, newSViv(tether_event_opcode(ev)));
        sv = newSVpvn((const char *)data, len);
        /* Text was validated by the library (the Perl modules never turn
         * the check off), so it can be marked as characters as it is. */
        if (tether_event_opcode(ev) == TETHER_OP_TEXT && type == TETHER_EV_MESSAGE)
            SvUTF8_on(sv);
        av_push(av, sv);
        av_push(av, newSViv(tether_event_fin(ev)));
        break;
    case TETHER_EV_PING:
    case TETHER_EV_PONG:
        data = tether_event_data(ev, &len);
        av_push(av, newSVpvn((const char *)data, len));
        break;
    case TETHER_EV_CLOSED:
    case TETHER_EV_RETRY: {
        const char *reason = tether_event_close_reason(ev, &len);
        const char *text = tether_conn_error_text(c);
        av_push(av, newSViv(tether_event_close_code(ev)));
        sv = newSVpvn(reason ? reason : "", reason ? len : 0);
        if (is_utf8_string((const U8 *)SvPVX(sv), SvCUR(sv)))
            SvUTF8_on(sv);
        av_push(av, sv);
        av_push(av, newSViv(tether_event_clean(ev)));
        av_push(av, newSViv(tether_event_error(ev)));
        av_push(av, text ? newSVpv(text, 0) : newSV(0));
        av_push(av, newSViv(tether_conn_http_status(c)));
        av_push(av, newSViv(tether_conn_os_error(c)));
        if (type == TETHER_EV_RETRY) {
            av_push(av, newSViv(tether_event_retry_delay(ev)));
            av_push(av, newSViv(tether_event_retry_attempt(ev)));
            break;
        }
        av_push(av, tether_pl_stats_sv(aTHX_ c));
        if (hold_closed) {
            sv = newSV(0);
            SWIG_MakePtr(sv, (void *)ev, SWIGTYPE_p_tether_event, 0);
            av_push(av, sv);
            release = 0;
        }
        break;
    }
    default:
        break;
    }
    if (release)
        tether_event_release(ev);
    return newRV_noinc((SV *)av);
}
%}

%inline %{
/* Every header the connection's handshake received (a server: the
 * request's; a client: the response's), in order, as an array ref of
 * [name, value] pairs. */
SV *tether_pl_conn_headers(tether_conn *c)
{
    dTHX;
    AV *all = newAV();
    size_t n = tether_conn_header_count(c);
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL, *value = NULL;
        if (tether_conn_header_at(c, i, &name, &value) != 0)
            continue;
        AV *pair = newAV();
        av_push(pair, newSVpv(name, 0));
        av_push(pair, newSVpv(value, 0));
        av_push(all, newRV_noinc((SV *)pair));
    }
    return sv_2mortal(newRV_noinc((SV *)all));
}

/* tether_conn_stats() as a hash ref keyed by the struct's field names
 * (resolve_us ... reconnects), or undef on error. */
SV *tether_pl_conn_stats(tether_conn *c)
{
    dTHX;
    return sv_2mortal(tether_pl_stats_sv(aTHX_ c));
}

/* Waits up to timeout_ms for one event: an array ref as above, or undef on
 * timeout; croaks on a library error. */
SV *tether_pl_next(tether_ctx *ctx, int timeout_ms)
{
    dTHX;
    tether_event *ev = NULL;
    int rc = tether_next_event(ctx, timeout_ms, &ev);
    if (rc == TETHER_E_AGAIN)
        return &PL_sv_undef;
    if (rc < 0)
        croak("tether_next_event: %s", tether_strerror(rc));
    /* SWIG hands a returned SV* to Perl as it is: make it mortal. */
    return sv_2mortal(tether_pl_event_av(aTHX_ ev, 0));
}

/* For a foreign loop: tether_ctx_service(ctx, 0), then every queued event,
 * as an array ref of events (empty when nothing happened). CLOSED events
 * are held (see above): release each with tether_event_release once it is
 * dispatched. */
SV *tether_pl_service(tether_ctx *ctx)
{
    dTHX;
    AV *all = newAV();
    int rc = tether_ctx_service(ctx, 0);
    if (rc < 0) {
        SvREFCNT_dec((SV *)all);
        croak("tether_ctx_service: %s", tether_strerror(rc));
    }
    tether_event *batch[64];
    int n;
    while ((n = tether_next_events(ctx, 0, batch, 64)) > 0)
        for (int i = 0; i < n; i++)
            av_push(all, tether_pl_event_av(aTHX_ batch[i], 1));
    return sv_2mortal(newRV_noinc((SV *)all));
}

/* The engine's next event as an array ref [type, opcode, fin, data, code,
 * clean, error] (data: the payload, or CLOSED's reason, as bytes), or undef
 * when there is none. */
SV *tether_pl_ws_next(tether_ws *ws)
{
    dTHX;
    tether_ws_event ev;
    AV *av;
    int rc = tether_ws_next_event(ws, &ev);
    if (rc < 0)
        croak("tether_ws_next_event: %s", tether_strerror(rc));
    if (rc == 0)
        return &PL_sv_undef;
    av = newAV();
    av_push(av, newSViv(ev.type));
    av_push(av, newSViv(ev.opcode));
    av_push(av, newSViv(ev.fin));
    av_push(av, newSVpvn(ev.len ? (const char *)ev.data : "", ev.len));
    av_push(av, newSViv(ev.code));
    av_push(av, newSViv(ev.clean));
    av_push(av, newSViv(ev.error));
    return sv_2mortal(newRV_noinc((SV *)av));
}

/* Sends one message from a Perl string: characters as UTF-8 for TEXT,
 * bytes for BINARY (a string with characters above 255 is refused with
 * TETHER_E_INVAL). Returns tether_conn_send()'s result. */
int tether_pl_send(tether_conn *c, int opcode, SV *data)
{
    dTHX;
    STRLEN n = 0;
    const char *p;
    int rc;
    if (!SvOK(data)) {
        return tether_conn_send(c, (tether_opcode)opcode, "", 0);
    }
    p = SvPV(data, n);
    if (opcode == TETHER_OP_TEXT) {
        if (!SvUTF8(data) && !is_ascii_string((const U8 *)p, n)) {
            STRLEN un = n;
            U8 *u = bytes_to_utf8((const U8 *)p, &un);
            rc = tether_conn_send(c, TETHER_OP_TEXT, u, un);
            Safefree(u);
            return rc;
        }
        return tether_conn_send(c, TETHER_OP_TEXT, p, n);
    }
    if (SvUTF8(data)) {
        SV *copy = sv_2mortal(newSVpvn(p, n));
        SvUTF8_on(copy);
        if (!sv_utf8_downgrade(copy, TRUE))
            return TETHER_E_INVAL;
        p = SvPV(copy, n);
    }
    return tether_conn_send(c, (tether_opcode)opcode, p, n);
}
%}

/* ---- Documentation of the generated module ------------------------------ */

%perlcode %{

=encoding utf8

=head1 NAME

Tether::Raw - the tether C API, generated by SWIG from tether.h

=head1 SYNOPSIS

    use Tether::Raw;

    my $ctx = Tether::Raw::tether_ctx_new();
    my ($rc, $l) = Tether::Raw::tether_listen($ctx, '127.0.0.1', 0, undef);
    my $port = Tether::Raw::tether_listener_port($l);
    ($rc, my $conn) = Tether::Raw::tether_connect($ctx, "ws://127.0.0.1:$port/", undef);
    while (1) {
        my ($rc, $ev) = Tether::Raw::tether_next_event($ctx, 5000);
        last if $rc < 0;
        my $type = Tether::Raw::tether_event_type_of($ev);
        my $c = Tether::Raw::tether_event_conn($ev);
        if ($type == $Tether::Raw::TETHER_EV_OPEN && $$c == $$conn) {
            Tether::Raw::tether_conn_send($c, $Tether::Raw::TETHER_OP_TEXT, 'hi');
        }
        elsif ($type == $Tether::Raw::TETHER_EV_MESSAGE) {
            my $data = Tether::Raw::tether_event_data($ev);      # 'hi', on the server side
            Tether::Raw::tether_conn_close($c, 1000, 'bye');
        }
        Tether::Raw::tether_event_release($ev);
        last if $type == $Tether::Raw::TETHER_EV_CLOSED && $$c == $$conn;
    }
    Tether::Raw::tether_ctx_free($ctx);

=head1 DESCRIPTION

Every function, enumerator and macro constant of F<tether.h>, under the same
names (functions as C<Tether::Raw::tether_...>, constants as package
variables C<$Tether::Raw::TETHER_...>). The header's comments are the
reference. Most programs want the Perl modules on top instead:
L<Tether::Client>, L<Tether::Server>, L<Tether::Blocking::Client>, the
sans-I/O modules (L<Tether::Parser>...).

How C types become Perl values:

=over

=item * objects (C<tether_ctx *>, C<tether_conn *>...) are opaque SWIG
pointer objects; C<$$ptr> is the address, for comparing two of them;

=item * input buffers (C<const void *data, size_t len> and the like) are one
byte string argument;

=item * output values come back as extra return values after the C result:
C<< my ($rc, $conn) = tether_connect($ctx, $url, $opts) >>,
C<< my ($rc, $listener, $errno) = tether_listen($ctx, $host, $port, $opts) >>
(C<$errno>: the OS's reason for a failure, e.g. C<EADDRINUSE>, else 0),
C<< my ($rc, $bytes) = tether_client_hs_request($h) >>,
C<< my ($rc, $frame) = tether_frame_write($role, $op, $fin, $rsv, $payload, $capacity) >>;

=item * functions that return a pointer and a length (C<tether_event_data>,
C<tether_event_close_reason>, C<tether_parser_close_reason>) return one
string;

=item * C<tether_parser_next($p, $buf)> unmasks in place, as in C: C<$buf>
must be a writable scalar, and it returns C<($event, $consumed, $data)>;

=item * C<tether_opts_set_retry_steps($opts, [50, 100, 2000], $jitter, $max_tries)>
takes the table of delays (milliseconds) as an array reference;

=item * C<tether_set_log_callback(sub { my ($level, $line) = @_; ... })>
takes a code ref (or undef), called through a C trampoline.

=back

The C<tether_pl_*> functions are helpers of the Perl modules (one call per
event instead of six), not part of the C API.

=cut

%}
