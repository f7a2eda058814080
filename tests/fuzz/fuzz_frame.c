/*
 * fuzz_frame.c -- libFuzzer target for what a client's bytes reach first:
 * the frame decoder, the handshake and request decoders, request
 * validation and the paging-state decoders.
 *
 * The first input byte picks how the rest is cut into reads (1 to 64
 * bytes, or all at once) and whether the connection counts as past its
 * handshake, so garbage is tried both before and after a valid one. Each
 * decoded request that passes validation has its paging state decoded
 * again, and every frame is answered with an encoded error, as the node
 * does. The sanitizers (address, undefined) judge; the target asserts
 * the decoder's own promises: payloads never exceed the limit and
 * consumed bytes are accounted for.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "proto/client.pb-c.h"
#include "proto/common.pb-c.h"
#include "server/frame.h"
#include "server/validate.h"

#define FUZZ_MAX_FRAME 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_answer(uint64_t id, int code)
{
    Cairn__Response r = CAIRN__RESPONSE__INIT;
    Cairn__Error e = CAIRN__ERROR__INIT;
    uint8_t *f;
    size_t n;

    e.code = code;
    e.message = (char *)err_msg();
    r.id = id;
    r.error = &e;
    if (frame_pack(&r.base, &f, &n) == 0) {
        assert(n >= FRAME_HDR);
        mem_free(f);
    }
}

static void fuzz_paging(const Cairn__Request *rq)
{
    const uint8_t *a, *b;
    size_t an, bn;

    if (rq->op_case == CAIRN__REQUEST__OP_READ && rq->read->paging_state.len)
        assert(paging_read_decode(rq->read->paging_state.data,
                                  rq->read->paging_state.len, &a, &an) == 0);
    if (rq->op_case == CAIRN__REQUEST__OP_SCAN && rq->scan->paging_state.len)
        assert(paging_scan_decode(rq->scan->paging_state.data,
                                  rq->scan->paging_state.len, &a, &an, &b,
                                  &bn) == 0);
}

static void fuzz_request(const uint8_t *p, size_t n)
{
    static const struct validate_limits lim = {1024};
    Cairn__Request *rq = cairn__request__unpack(frame_allocator(), n, p);
    int rc;

    if (rq == NULL) {
        fuzz_answer(0, CAIRN_EPROTO);
        return;
    }
    rc = validate_request(rq, &lim);
    if (rc == 0)
        fuzz_paging(rq);
    fuzz_answer(rq->id, rc);
    cairn__request__free_unpacked(rq, frame_allocator());
}

static int fuzz_handshake(const uint8_t *p, size_t n)
{
    Cairn__Handshake *h = cairn__handshake__unpack(frame_allocator(), n, p);
    int ok = h && h->protocol_version == 1;

    if (h)
        cairn__handshake__free_unpacked(h, frame_allocator());
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct frame_dec d;
    size_t piece, off;
    int ready;

    if (size < 1)
        return 0;
    piece = (data[0] & 0x3f) ? (data[0] & 0x3f) : size;
    ready = data[0] >> 7;
    data++;
    size--;
    frame_dec_init(&d, FUZZ_MAX_FRAME);
    for (off = 0; off < size; off += piece) {
        size_t take = size - off < piece ? size - off : piece;
        const uint8_t *p;
        size_t n;
        int rc;
        if (frame_dec_feed(&d, data + off, take) < 0)
            break;
        while ((rc = frame_dec_next(&d, &p, &n)) == 1) {
            assert(n <= FUZZ_MAX_FRAME);
            if (ready)
                fuzz_request(p, n);
            else
                ready = fuzz_handshake(p, n);
        }
        if (rc < 0)
            break; /* the node answers and closes here */
        assert(frame_dec_buffered(&d) <= off + take);
    }
    frame_dec_free(&d);
    return 0;
}
