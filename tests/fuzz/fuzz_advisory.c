/*  fuzz_advisory.c - libFuzzer target: arbitrary bytes as a Signed
    advisory through the real verifier, and as a Control frame through the
    real control decoder. Neither may crash, leak or accept garbage.
*/
#include "cc_broker.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static uint8_t root_key [32] = { 1, 2, 3 };
    int code = 0;
    const char *reason = NULL;
    cc_advisory_t *advisory = cc_advisory_open (data, size, root_key,
                                                1800000000, CC_AT_INTAKE,
                                                &code, &reason);
    //  Nothing random can be signed by this root.
    assert (!advisory && code != 0 && reason);
    zframe_t *frame = zframe_new (data, size);
    Certcast__Control *control = cc_wire_control_decode (frame);
    if (control)
        certcast__control__free_unpacked (control, NULL);
    zframe_destroy (&frame);
    return 0;
}
