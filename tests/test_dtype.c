/* Conversions between float32 and the on-disk dtypes: known bit patterns,
 * every rounding boundary of BF16 and F16, and every F16 value. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dtype.h"
#include "tap.h"

static uint32_t bits_of(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

static float float_of(uint32_t bits)
{
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

static uint16_t to_half(float value, DType dtype)
{
    unsigned char bytes[2];
    dtype_from_f32(bytes, &value, dtype, 1);
    return (uint16_t)(bytes[0] | bytes[1] << 8);
}

static float from_half(uint16_t half, DType dtype)
{
    unsigned char bytes[2] = {(unsigned char)half, (unsigned char)(half >> 8)};
    float value;
    dtype_to_f32(&value, bytes, dtype, 1);
    return value;
}

static void check_half(DType dtype, float value, uint16_t expected, const char *what)
{
    uint16_t got = to_half(value, dtype);
    if (!tap_ok(got == expected, "%s %s (%a) -> 0x%04x", dtype_name(dtype), what, (double)value,
                expected))
        tap_diag("got 0x%04x", got);
}

static void check_names(void)
{
    DType dtype = DTYPE_F32;
    tap_ok(dtype_parse("BF16", &dtype) == 0 && dtype == DTYPE_BF16, "parse BF16");
    tap_ok(dtype_parse("F16", &dtype) == 0 && dtype == DTYPE_F16, "parse F16");
    tap_ok(dtype_parse("F32", &dtype) == 0 && dtype == DTYPE_F32, "parse F32");
    tap_ok(dtype_parse("I64", &dtype) == -1 && dtype_parse("f32", &dtype) == -1
           && dtype_parse("", &dtype) == -1 && dtype_parse("F8_E4M3", &dtype) == -1,
           "parse rejects I64, f32, empty and F8_E4M3");
    tap_ok(strcmp(dtype_name(DTYPE_BF16), "BF16") == 0 && strcmp(dtype_name(DTYPE_F16), "F16") == 0
           && strcmp(dtype_name(DTYPE_F32), "F32") == 0, "names");
    tap_ok(dtype_size(DTYPE_F32) == 4 && dtype_size(DTYPE_BF16) == 2 && dtype_size(DTYPE_F16) == 2,
           "sizes");
}

static void check_f32(void)
{
    const float values[3] = {1.0f, -2.5f, 0x1p-149f};
    const unsigned char expected[12] = {0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x20, 0xC0,
                                        0x01, 0x00, 0x00, 0x00};
    unsigned char storage[13];
    unsigned char *unaligned = storage + 1;
    float back[3];
    dtype_from_f32(unaligned, values, DTYPE_F32, 3);
    tap_ok(memcmp(unaligned, expected, sizeof expected) == 0,
           "F32 stores little-endian bytes at an unaligned address");
    dtype_to_f32(back, unaligned, DTYPE_F32, 3);
    tap_ok(memcmp(back, values, sizeof values) == 0, "F32 round trip keeps every bit");
}

static void check_bf16_patterns(void)
{
    check_half(DTYPE_BF16, 1.0f, 0x3F80, "1.0");
    check_half(DTYPE_BF16, -2.5f, 0xC020, "-2.5");
    check_half(DTYPE_BF16, 0.1f, 0x3DCD, "0.1 rounds up");
    check_half(DTYPE_BF16, 1.0f + 0x1p-8f, 0x3F80, "tie 1+2^-8 rounds to even (down)");
    check_half(DTYPE_BF16, 1.0f + 3 * 0x1p-8f, 0x3F82, "tie 1+3*2^-8 rounds to even (up)");
    check_half(DTYPE_BF16, -0.0f, 0x8000, "-0");
    check_half(DTYPE_BF16, INFINITY, 0x7F80, "inf");
    check_half(DTYPE_BF16, -INFINITY, 0xFF80, "-inf");
    check_half(DTYPE_BF16, 3.4028235e38f, 0x7F80, "FLT_MAX rounds to inf");
    check_half(DTYPE_BF16, 0x1p-133f, 0x0001, "smallest BF16 subnormal");

    uint16_t nan_low_payload = to_half(float_of(0x7F800001u), DTYPE_BF16);
    tap_ok((nan_low_payload & 0x7F80) == 0x7F80 && (nan_low_payload & 0x007F) != 0,
           "NaN with only low payload bits stays NaN (0x%04x)", nan_low_payload);
    tap_ok(isnan(from_half(0x7FC0, DTYPE_BF16)) && from_half(0xC020, DTYPE_BF16) == -2.5f,
           "BF16 decode of NaN and -2.5");
}

/* For each pair of neighbouring positive finite BF16 values h, h+1, the
 * float32 midpoint must round to the even one and its float32 neighbours to
 * the nearer one; together with exact values this pins down every rounding. */
static void check_bf16_all_boundaries(void)
{
    int failures = 0;
    for (uint32_t h = 0; h < 0x7F80; h++) {
        uint32_t midpoint = h << 16 | 0x8000u;
        uint16_t even = (uint16_t)(h & 1 ? h + 1 : h);
        for (int negative = 0; negative <= 1; negative++) {
            uint32_t sign = negative ? 0x80000000u : 0;
            uint16_t half_sign = (uint16_t)(sign >> 16);
            int ok = to_half(float_of(sign | h << 16), DTYPE_BF16) == (half_sign | h)
                     && to_half(float_of(sign | midpoint), DTYPE_BF16) == (half_sign | even)
                     && to_half(float_of(sign | (midpoint - 1)), DTYPE_BF16) == (half_sign | h)
                     && to_half(float_of(sign | (midpoint + 1)), DTYPE_BF16)
                            == (half_sign | (h + 1))
                     && from_half((uint16_t)(half_sign | h), DTYPE_BF16)
                            == float_of(sign | h << 16);
            if (!ok && failures++ < 5)
                tap_diag("BF16 boundary failure at 0x%04x sign %d", h, negative);
        }
    }
    tap_ok(failures == 0, "BF16 rounds every exact value, midpoint and neighbour correctly");
}

static void check_f16_patterns(void)
{
    check_half(DTYPE_F16, 1.0f, 0x3C00, "1.0");
    check_half(DTYPE_F16, -2.5f, 0xC100, "-2.5");
    check_half(DTYPE_F16, 0.1f, 0x2E66, "0.1");
    check_half(DTYPE_F16, 65504.0f, 0x7BFF, "65504 (largest finite)");
    check_half(DTYPE_F16, 65519.0f, 0x7BFF, "65519 rounds down to 65504");
    check_half(DTYPE_F16, 65520.0f, 0x7C00, "65520 (tie, odd below) rounds to inf");
    check_half(DTYPE_F16, 1e10f, 0x7C00, "1e10 overflows to inf");
    check_half(DTYPE_F16, -1e10f, 0xFC00, "-1e10 overflows to -inf");
    check_half(DTYPE_F16, 0x1p-14f, 0x0400, "2^-14 (smallest normal)");
    check_half(DTYPE_F16, 0x1p-14f - 0x1p-25f, 0x0400, "tie below 2^-14 rounds up to normal");
    check_half(DTYPE_F16, 0x1p-24f, 0x0001, "2^-24 (smallest subnormal)");
    check_half(DTYPE_F16, 1023 * 0x1p-24f, 0x03FF, "largest subnormal");
    check_half(DTYPE_F16, 0x1p-25f, 0x0000, "2^-25 (tie) rounds to even zero");
    check_half(DTYPE_F16, 0x1.000002p-25f, 0x0001, "just above 2^-25 rounds up");
    check_half(DTYPE_F16, 3 * 0x1p-25f, 0x0002, "1.5 * 2^-24 (tie) rounds to even 2");
    check_half(DTYPE_F16, 5 * 0x1p-25f, 0x0002, "2.5 * 2^-24 (tie) rounds to even 2");
    check_half(DTYPE_F16, 0x1p-149f, 0x0000, "float32 subnormal flushes to zero");
    check_half(DTYPE_F16, -0x1p-30f, 0x8000, "tiny negative keeps its sign");
    check_half(DTYPE_F16, 1.0f + 0x1p-11f, 0x3C00, "tie 1+2^-11 rounds to even (down)");
    check_half(DTYPE_F16, 1.0f + 3 * 0x1p-11f, 0x3C02, "tie 1+3*2^-11 rounds to even (up)");
    check_half(DTYPE_F16, -0.0f, 0x8000, "-0");
    check_half(DTYPE_F16, INFINITY, 0x7C00, "inf");
    check_half(DTYPE_F16, -INFINITY, 0xFC00, "-inf");

    uint16_t nan = to_half(NAN, DTYPE_F16);
    uint16_t nan_low_payload = to_half(float_of(0x7F800001u), DTYPE_F16);
    tap_ok((nan & 0x7C00) == 0x7C00 && (nan & 0x03FF) != 0
           && (nan_low_payload & 0x7C00) == 0x7C00 && (nan_low_payload & 0x03FF) != 0,
           "NaN stays NaN, also with only low payload bits");
    tap_ok(from_half(0x0001, DTYPE_F16) == 0x1p-24f
           && from_half(0x03FF, DTYPE_F16) == 1023 * 0x1p-24f
           && from_half(0x7BFF, DTYPE_F16) == 65504.0f
           && from_half(0x3555, DTYPE_F16) == 0x1.554p-2f
           && from_half(0xFC00, DTYPE_F16) == -INFINITY && isnan(from_half(0x7E00, DTYPE_F16)),
           "F16 decode of subnormals, 65504, 1/3, -inf and NaN");
    tap_ok(signbit(from_half(0x8000, DTYPE_F16)) && from_half(0x8000, DTYPE_F16) == 0.0f,
           "F16 decode of -0");
}

/* Every F16 bit pattern decodes and encodes back to itself (NaNs to a NaN). */
static void check_f16_all_values(void)
{
    int failures = 0;
    for (uint32_t h = 0; h <= 0xFFFF; h++) {
        float value = from_half((uint16_t)h, DTYPE_F16);
        uint16_t back = to_half(value, DTYPE_F16);
        int is_nan = (h & 0x7C00) == 0x7C00 && (h & 0x03FF) != 0;
        int ok = is_nan ? isnan(value) && (back & 0x7C00) == 0x7C00 && (back & 0x03FF) != 0
                        : back == h;
        if (!ok && failures++ < 5)
            tap_diag("F16 0x%04x -> %a -> 0x%04x", h, (double)value, back);
    }
    tap_ok(failures == 0, "all 65536 F16 values survive F16 -> F32 -> F16");
}

/* A power of two as float32; exponent within the normal range. */
static float power_of_two(int exponent)
{
    return float_of((uint32_t)(exponent + 127) << 23);
}

/* Midpoints between neighbouring positive finite F16 values h, h+1 (exact in
 * float32) must round to the even one, their float32 neighbours to the nearer. */
static void check_f16_all_boundaries(void)
{
    int failures = 0;
    for (uint32_t h = 0; h < 0x7C00; h++) {
        int exponent = (int)(h >> 10);
        float midpoint = from_half((uint16_t)h, DTYPE_F16)
                         + power_of_two((exponent ? exponent : 1) - 26);
        uint32_t midpoint_bits = bits_of(midpoint);
        uint16_t even = (uint16_t)(h & 1 ? h + 1 : h);
        for (int negative = 0; negative <= 1; negative++) {
            uint32_t sign = negative ? 0x80000000u : 0;
            uint16_t half_sign = (uint16_t)(sign >> 16);
            int ok = to_half(float_of(sign | midpoint_bits), DTYPE_F16) == (half_sign | even)
                     && to_half(float_of(sign | (midpoint_bits - 1)), DTYPE_F16) == (half_sign | h)
                     && to_half(float_of(sign | (midpoint_bits + 1)), DTYPE_F16)
                            == (half_sign | (h + 1));
            if (!ok && failures++ < 5)
                tap_diag("F16 boundary failure above 0x%04x sign %d", h, negative);
        }
    }
    tap_ok(failures == 0, "F16 rounds every midpoint and its neighbours correctly");
}

static void check_arrays(void)
{
    const float values[5] = {0.5f, -1.0f, 3.0f, 1024.0f, -0.125f};
    unsigned char storage[11];
    float back[5];
    for (int dtype = DTYPE_BF16; dtype <= DTYPE_F16; dtype++) {
        memset(back, 0, sizeof back);
        dtype_from_f32(storage + 1, values, (DType)dtype, 5);
        dtype_to_f32(back, storage + 1, (DType)dtype, 5);
        tap_ok(memcmp(back, values, sizeof values) == 0,
               "%s array round trip at an unaligned address", dtype_name((DType)dtype));
    }
}

int main(void)
{
    check_names();
    check_f32();
    check_bf16_patterns();
    check_bf16_all_boundaries();
    check_f16_patterns();
    check_f16_all_values();
    check_f16_all_boundaries();
    check_arrays();
    return tap_done();
}
