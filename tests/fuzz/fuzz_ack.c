/*  fuzz_ack.c - libFuzzer target: arbitrary bytes as a SignedAck through
    the real ack verifier. No input without a valid Ed25519 signature by
    the expected agent may be accepted.
*/
#include "cc_broker.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static uint8_t agent [32] = { 9, 8, 7 };
    int code = 0;
    const char *reason = NULL;
    Certcast__Ack *ack = cc_ledger_verify_ack (data, size, agent, &code,
                                               &reason);
    assert (!ack && code != 0);
    return 0;
}
