#include "dtype.h"

#include <string.h>

#include "error.h"

int dtype_parse(const char *name, DType *out)
{
    if (strcmp(name, "F32") == 0)
        *out = DTYPE_F32;
    else if (strcmp(name, "BF16") == 0)
        *out = DTYPE_BF16;
    else if (strcmp(name, "F16") == 0)
        *out = DTYPE_F16;
    else
        return -1;
    return 0;
}

const char *dtype_name(DType dtype)
{
    switch (dtype) {
    case DTYPE_F32:
        return "F32";
    case DTYPE_BF16:
        return "BF16";
    case DTYPE_F16:
        return "F16";
    }
    FATAL("invalid dtype %d", (int)dtype);
}

size_t dtype_size(DType dtype)
{
    switch (dtype) {
    case DTYPE_F32:
        return 4;
    case DTYPE_BF16:
    case DTYPE_F16:
        return 2;
    }
    FATAL("invalid dtype %d", (int)dtype);
}

static uint32_t f32_bits(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

static float f32_from_bits(uint32_t bits)
{
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/* Byte-wise loads and stores keep the file format little-endian on any host
 * and allow unaligned pointers into a mapping. */
static uint16_t load_le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store_le16(unsigned char *p, uint16_t value)
{
    p[0] = (unsigned char)value;
    p[1] = (unsigned char)(value >> 8);
}

static void store_le32(unsigned char *p, uint32_t value)
{
    p[0] = (unsigned char)value;
    p[1] = (unsigned char)(value >> 8);
    p[2] = (unsigned char)(value >> 16);
    p[3] = (unsigned char)(value >> 24);
}

static float bf16_to_f32(uint16_t half)
{
    return f32_from_bits((uint32_t)half << 16);
}

static uint16_t f32_to_bf16(float value)
{
    uint32_t bits = f32_bits(value);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u)
        /* Truncating could clear every remaining mantissa bit and turn the
         * NaN into infinity; setting the quiet bit keeps it a NaN. */
        return (uint16_t)(bits >> 16 | 0x0040u);
    /* Adding 0x7FFF plus the lowest kept bit rounds half to even; a carry into
     * the exponent is the correct rounding (up to infinity at the top). */
    bits += 0x7FFFu + (bits >> 16 & 1u);
    return (uint16_t)(bits >> 16);
}

static float f16_to_f32(uint16_t half)
{
    uint32_t sign = (uint32_t)(half & 0x8000u) << 16;
    uint32_t exponent = half >> 10 & 0x1Fu;
    uint32_t mantissa = half & 0x3FFu;

    if (exponent == 0x1F)
        return f32_from_bits(sign | 0x7F800000u | mantissa << 13);
    if (exponent != 0)
        return f32_from_bits(sign | (exponent + 112) << 23 | mantissa << 13);
    /* Zero or subnormal: mantissa units of 2^-24, exact in float32. */
    float magnitude = (float)mantissa * 0x1p-24f;
    return f32_from_bits(sign | f32_bits(magnitude));
}

/* F16 subnormals are multiples of 2^-24; rounds a float32 magnitude below
 * 2^-14 (bits abs) to the nearest multiple, ties to even. */
static uint16_t f32_to_f16_subnormal(uint32_t abs)
{
    if (abs <= 0x33000000u)  /* <= 2^-25: rounds to zero (2^-25 is a tie, zero is even) */
        return 0;
    uint32_t exponent = abs >> 23;
    uint32_t mantissa = (abs & 0x7FFFFFu) | 0x800000u;
    /* The value is mantissa * 2^(exponent - 150), i.e. mantissa >> shift
     * units of 2^-24; exponent lies in [102, 112], so shift in [14, 24]. */
    uint32_t shift = 126 - exponent;
    uint32_t result = mantissa >> shift;
    uint32_t remainder = mantissa & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (remainder > half || (remainder == half && (result & 1u)))
        result++;  /* 0x400 after rounding up is the smallest normal, as wanted */
    return (uint16_t)result;
}

static uint16_t f32_to_f16(float value)
{
    uint32_t bits = f32_bits(value);
    uint16_t sign = (uint16_t)(bits >> 16 & 0x8000u);
    uint32_t abs = bits & 0x7FFFFFFFu;

    if (abs > 0x7F800000u)  /* NaN: stays quiet, keeps the top of the payload */
        return (uint16_t)(sign | 0x7E00u | (abs >> 13 & 0x3FFu));
    if (abs >= 0x477FF000u)  /* >= 65520, half way past 65504: rounds to infinity */
        return (uint16_t)(sign | 0x7C00u);
    if (abs < 0x38800000u)   /* < 2^-14, the smallest F16 normal */
        return (uint16_t)(sign | f32_to_f16_subnormal(abs));
    /* Rebias the exponent from 127 to 15, then drop 13 mantissa bits rounding
     * half to even; a carry into the exponent is the correct rounding. */
    uint32_t rebiased = abs - (112u << 23);
    rebiased += 0xFFFu + (rebiased >> 13 & 1u);
    return (uint16_t)(sign | rebiased >> 13);
}

void dtype_to_f32(float *dst, const void *src, DType dtype, size_t n)
{
    const unsigned char *bytes = src;
    switch (dtype) {
    case DTYPE_F32:
        for (size_t i = 0; i < n; i++)
            dst[i] = f32_from_bits(load_le32(bytes + 4 * i));
        return;
    case DTYPE_BF16:
        for (size_t i = 0; i < n; i++)
            dst[i] = bf16_to_f32(load_le16(bytes + 2 * i));
        return;
    case DTYPE_F16:
        for (size_t i = 0; i < n; i++)
            dst[i] = f16_to_f32(load_le16(bytes + 2 * i));
        return;
    }
    FATAL("invalid dtype %d", (int)dtype);
}

void dtype_from_f32(void *dst, const float *src, DType dtype, size_t n)
{
    unsigned char *bytes = dst;
    switch (dtype) {
    case DTYPE_F32:
        for (size_t i = 0; i < n; i++)
            store_le32(bytes + 4 * i, f32_bits(src[i]));
        return;
    case DTYPE_BF16:
        for (size_t i = 0; i < n; i++)
            store_le16(bytes + 2 * i, f32_to_bf16(src[i]));
        return;
    case DTYPE_F16:
        for (size_t i = 0; i < n; i++)
            store_le16(bytes + 2 * i, f32_to_f16(src[i]));
        return;
    }
    FATAL("invalid dtype %d", (int)dtype);
}
