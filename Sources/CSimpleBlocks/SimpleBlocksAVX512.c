// The line forms' fastest path on processors with AVX-512 VBMI2: the blocks `SimpleBlocks`
// (EventStream) takes, written with fewer instructions per block. Swift cannot compile one function
// for a wider instruction set than the whole program, so this kernel is C, compiled for those
// instructions and chosen at run time (`drip_simple_blocks_available`). It writes exactly what
// `LineSink` writes, and stops at the first block of any other shape, which the Swift paths read.
//
// Per block: its first 128 bytes are classified at once (line feeds, and bytes a header value may
// not hold), so its id, event and data lines are found from those bits rather than by a scan from
// the end of each line; the data is copied 32 bytes a step, and in the JSON form a backslash goes
// before each `"` and `\` by one VPEXPANDB per step, with no branch per quote. A block laid out as
// the one before it in the chunk (an id line, then the same event line) is read from that layout,
// its event line checked by one comparison.
//
// Memory: it reads only inside the chunk (`input`, `count`): a block is taken only when its first
// 128 bytes, and 32 bytes after its data line's last byte, lie in the chunk; every load is within
// those. It writes only below `output_limit`: a block is started only when the room it can need
// (its parts, twice its data, one vector's overrun) is there.

#include "CSimpleBlocks.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <cpuid.h>
#include <immintrin.h>

#define DRIP_VBMI2 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi2,bmi,bmi2,popcnt")))
#define DRIP_INLINE static inline __attribute__((always_inline))

bool drip_simple_blocks_available(void) {
    static int known = -1;
    int value = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (value >= 0) return value == 1;
    unsigned int eax, ebx, ecx, edx;
    bool usable = false;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_OSXSAVE)) {
        unsigned int low, high;
        __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
        // The operating system saves the XMM, YMM, opmask and ZMM registers (XCR0 bits 1, 2, 5-7).
        if ((low & 0xE6) == 0xE6 && __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
            bool base = (ebx & bit_AVX512F) && (ebx & bit_AVX512BW) && (ebx & bit_AVX512VL);
            usable = base && (ecx & bit_AVX512VBMI2) && (ebx & bit_BMI) && (ebx & bit_BMI2);
        }
    }
    __atomic_store_n(&known, usable ? 1 : 0, __ATOMIC_RELAXED);
    return usable;
}

// The field names with their colons, as the little-endian words that start such lines.
static const uint64_t data_name = 0x3A61746164ULL;     // "data:"
static const uint64_t id_name = 0x3A6469ULL;           // "id:"
static const uint64_t event_name = 0x3A746E657665ULL;  // "event:"

DRIP_VBMI2 DRIP_INLINE __m256i load32(const uint8_t *source) { return _mm256_loadu_si256((const __m256i *)source); }

DRIP_VBMI2 DRIP_INLINE void store32(uint8_t *destination, __m256i vector) {
    _mm256_storeu_si256((__m256i *)destination, vector);
}

/// `"` and `\`.
DRIP_VBMI2 DRIP_INLINE uint32_t quoted_bytes(__m256i vector) {
    return _mm256_cmpeq_epi8_mask(vector, _mm256_set1_epi8('"')) | _mm256_cmpeq_epi8_mask(vector, _mm256_set1_epi8('\\'));
}

/// Below 0x20 (LF and CR among them) and from 0x80 up, in one signed comparison.
DRIP_VBMI2 DRIP_INLINE uint32_t control_or_high_bytes(__m256i vector) {
    return _mm256_cmplt_epi8_mask(vector, _mm256_set1_epi8(0x20));
}

DRIP_VBMI2 DRIP_INLINE uint32_t delete_bytes(__m256i vector) {
    return _mm256_cmpeq_epi8_mask(vector, _mm256_set1_epi8(0x7F));
}

/// A header value: plain bytes, copied as one vector when they lie in the chunk with 32 bytes
/// readable (`in_chunk`), else byte for byte.
DRIP_VBMI2 DRIP_INLINE uint8_t *write_value(uint8_t *out, const uint8_t *value, intptr_t count, bool in_chunk) {
    if (in_chunk) {
        store32(out, load32(value));
    } else if (count > 0) {
        memcpy(out, value, (size_t)count);
    }
    return out + count;
}

#define COPY_LITERAL(out, literal)                     \
    do {                                               \
        memcpy((out), (literal), sizeof(literal) - 1); \
        (out) += sizeof(literal) - 1;                  \
    } while (0)

/// What a block writes before its data: `{"type":"TYPE","data":"` in the JSON form, the type alone in
/// the text form (its id follows); `message` for an empty type. Writes up to 32 bytes past the end.
DRIP_VBMI2 DRIP_INLINE uint8_t *write_head(drip_line_form form, uint8_t *out, const uint8_t *type, intptr_t type_length) {
    if (form == DRIP_FORM_JSON) COPY_LITERAL(out, "{\"type\":\"");
    if (type_length > 0) {
        out = write_value(out, type, type_length, true);
    } else {
        COPY_LITERAL(out, "message");
    }
    if (form == DRIP_FORM_JSON) COPY_LITERAL(out, "\",\"data\":\"");
    return out;
}

/// Whether `bytes` are all printable ASCII other than `"` and `\` (a last event id kept from another
/// chunk, copied as it is when so).
static bool is_plain(const uint8_t *bytes, intptr_t count) {
    for (intptr_t index = 0; index < count; index++) {
        uint8_t byte = bytes[index];
        if (byte < 0x20 || byte >= 0x7F || byte == '"' || byte == '\\') return false;
    }
    return true;
}

/// Writes the 32 bytes of `vector` with a backslash before each byte marked in `quoted`: every
/// input byte i goes to bit pair (2i, 2i+1) as "byte, nothing" or, when quoted, "backslash, byte";
/// dropping the "nothing" bits leaves a mask of where the input bytes go, which VPEXPANDB follows.
/// Writes 64 bytes, of which 32 + popcount(quoted) are the result.
DRIP_VBMI2 DRIP_INLINE void write_escaped(uint8_t *out, __m256i vector, uint32_t quoted) {
    uint64_t odd = _pdep_u64(quoted, 0xAAAAAAAAAAAAAAAAULL);
    uint64_t pairs = _pdep_u64(~quoted, 0x5555555555555555ULL) | odd;
    __mmask64 bytes = _pext_u64(pairs, 0x5555555555555555ULL | odd);
    // Where no input byte goes, the backslash already there stays.
    _mm512_storeu_si512(out, _mm512_mask_expand_epi8(_mm512_set1_epi8('\\'), bytes, _mm512_castsi256_si512(vector)));
}

/// The offset of the first set bit of the 128-bit mask (low word first) from bit `from` on, or -1.
DRIP_VBMI2 DRIP_INLINE intptr_t first_bit_from(uint64_t low, uint64_t high, intptr_t from) {
    unsigned __int128 later = (((unsigned __int128)high << 64) | low) >> from;
    uint64_t later_low = (uint64_t)later, later_high = (uint64_t)(later >> 64);
    if (later_low != 0) return from + (intptr_t)_tzcnt_u64(later_low);
    if (later_high != 0) return from + 64 + (intptr_t)_tzcnt_u64(later_high);
    return -1;
}

DRIP_VBMI2 DRIP_INLINE bool write_blocks(drip_line_form form, const uint8_t *base, intptr_t count,
                                         drip_block_progress *progress, uint8_t **written,
                                         const uint8_t *output_limit, intptr_t max_line_length,
                                         intptr_t max_event_size) {
    intptr_t position = progress->position;
    uint8_t *output = *written;
    const uint8_t *last_id = progress->last_event_id;
    intptr_t last_id_count = progress->last_event_id_count;
    bool last_id_in_chunk = progress->last_event_id_in_chunk;
    bool last_id_plain = last_id_in_chunk || last_id_count == 0 ||
                         (last_id_count < 256 && last_id != NULL && is_plain(last_id, last_id_count));
    bool saw_id = progress->saw_id;
    intptr_t lines = progress->lines, blocks = progress->blocks;
    bool needs_room = false;
    const __m512i line_feeds = _mm512_set1_epi8('\n');
    // The last block's event line, when it had an id line and then an event line (`repeat_event_mask`
    // marks its bytes, line feed included; 0 when there is none to repeat).
    __m256i repeat_event_line = _mm256_setzero_si256();
    intptr_t repeat_event_length = 0, repeat_type_offset = 0, repeat_type_length = 0;
    uint32_t repeat_event_mask = 0;
    // In the JSON form, the text before the data of such a block.
    __m512i repeat_prefix = _mm512_setzero_si512();
    intptr_t repeat_prefix_length = 0;
    while (count - position >= 128) {
        // The block's first 128 bytes, classified at once: the line ends of its id and event lines
        // (and of a short data line) come from these bits, not from a scan that starts where the
        // last line ended, so one block's lines are found in parallel rather than one by one.
        const uint8_t *block = base + position;
        __m512i low = _mm512_loadu_si512(block);
        __m512i high = _mm512_loadu_si512(block + 64);
        uint64_t feeds_low = _mm512_cmpeq_epi8_mask(low, line_feeds);
        uint64_t feeds_high = _mm512_cmpeq_epi8_mask(high, line_feeds);
        // Bytes a header value may not hold, line feeds among them: below 0x20, from 0x80 up, DEL,
        // `"` and `\`.
        uint64_t special_low = _mm512_cmplt_epi8_mask(low, _mm512_set1_epi8(0x20)) |
                               _mm512_cmpeq_epi8_mask(low, _mm512_set1_epi8(0x7F)) |
                               _mm512_cmpeq_epi8_mask(low, _mm512_set1_epi8('"')) |
                               _mm512_cmpeq_epi8_mask(low, _mm512_set1_epi8('\\'));
        // Where the block ends, when its blank line lies in these bytes: the first line feed
        // followed by another, which must end the data line.
        uint64_t pairs_low = feeds_low & ((feeds_low >> 1) | (feeds_high << 63));
        uint64_t pairs_high = feeds_high & (feeds_high >> 1);
        intptr_t block_end = pairs_low != 0 ? (intptr_t)_tzcnt_u64(pairs_low)
                             : pairs_high != 0 ? 64 + (intptr_t)_tzcnt_u64(pairs_high) : -1;
        intptr_t first_end = (intptr_t)_tzcnt_u64(feeds_low);
        intptr_t second_end = (intptr_t)_tzcnt_u64(_blsr_u64(feeds_low));
        // Up to two header lines (id, event, in either order, each under 32 bytes), then `data:`.
        intptr_t type_start = 0, type_length = -1, id_start = 0, id_length = -1;
        intptr_t header_lines = 0, data_line = 0;
        bool repeats = false;
        // A block laid out as the last one (an id line, then the same event line, then `data:`) is
        // read from that: one comparison of its event line instead of a walk over its header lines.
        if (repeat_event_mask != 0 && first_end <= 31 && first_end <= max_line_length) {
            uint64_t word;
            memcpy(&word, block, 8);
            intptr_t event_line = first_end + 1;
            uint32_t same = _mm256_cmpeq_epi8_mask(load32(block + event_line), repeat_event_line);
            intptr_t after = event_line + repeat_event_length;
            uint64_t after_word;
            memcpy(&after_word, block + after, 8);
            if ((word & 0xFFFFFF) == id_name && (same & repeat_event_mask) == repeat_event_mask &&
                (after_word & 0xFFFFFFFFFFULL) == data_name) {
                id_start = 3 + (block[3] == ' ' ? 1 : 0);
                id_length = first_end - id_start;
                type_start = event_line + repeat_type_offset;
                type_length = repeat_type_length;
                header_lines = 2;
                data_line = after;
                repeats = true;
                goto headers_read;
            }
        }
        for (;;) {
            uint64_t word;
            memcpy(&word, block + data_line, 8);
            if ((word & 0xFFFFFFFFFFULL) == data_name) break;
            if (header_lines == 2) goto done;
            intptr_t line_end = header_lines == 0 ? first_end : second_end;
            if (line_end - data_line > 31 || line_end - data_line > max_line_length) goto done;
            bool is_id = (word & 0xFFFFFF) == id_name;
            if (is_id ? id_length >= 0 : ((word & 0xFFFFFFFFFFFFULL) != event_name || type_length >= 0)) goto done;
            intptr_t name_length = is_id ? 3 : 6;
            intptr_t value_start = data_line + name_length + (block[data_line + name_length] == ' ' ? 1 : 0);
            if (is_id) {
                id_start = value_start;
                id_length = line_end - value_start;
            } else {
                type_start = value_start;
                type_length = line_end - value_start;
            }
            header_lines += 1;
            data_line = line_end + 1;
        }
        // An id line then an event line (of up to 32 bytes with its line feed): the next block may repeat it.
        if (header_lines == 2 && id_start < type_start && data_line - first_end - 1 <= 32) {
            repeat_event_line = load32(block + first_end + 1);
            repeat_event_length = data_line - first_end - 1;
            repeat_event_mask = (uint32_t)_bzhi_u64(~0ULL, (unsigned)repeat_event_length);
            repeat_type_offset = type_start - (first_end + 1);
            repeat_type_length = type_length;
            if (form == DRIP_FORM_JSON) {
                // What a repeat writes before its data (at most 50 bytes), as one vector.
                uint8_t prefix[96] = {0};
                repeat_prefix_length = write_head(DRIP_FORM_JSON, prefix, block + type_start, type_length) - prefix;
                repeat_prefix = _mm512_loadu_si512(prefix);
            }
        }
    headers_read:
        // No byte before the header lines' last line feed may be special but those line feeds.
        if (data_line > 0 && (_bzhi_u64(special_low & ~feeds_low, (unsigned)data_line) != 0)) goto done;
        intptr_t data_start = data_line + 5 + (block[data_line + 5] == ' ' ? 1 : 0);
        // The data line's end: just before the blank line found above, or, for a longer block (no
        // line feed after the data line starts, in these bytes), found by a scan for the first
        // control byte after them (which must be the line feed).
        if (first_bit_from(feeds_low, feeds_high, data_line) != block_end) goto done;
        intptr_t line_end = block_end;
        if (block_end < 0) {
            intptr_t index = 128;
            for (;;) {
                if (position + index > count - 64 || index - data_line > max_line_length) goto done;
                __mmask64 controls = _mm512_cmplt_epi8_mask(_mm512_loadu_si512(block + index), _mm512_set1_epi8(0x20));
                if (controls != 0) {
                    line_end = index + (intptr_t)_tzcnt_u64(controls);
                    break;
                }
                index += 64;
            }
            if (block[line_end] != '\n') goto done;
        }
        // The block must end here (a blank line), within the limits, with 32 bytes readable after
        // its data line's last byte (the data steps load whole vectors); otherwise the general path
        // or the Swift one reads it.
        if (position + line_end + 32 > count || block[line_end + 1] != '\n' || line_end - data_line > max_line_length ||
            line_end - data_start >= max_event_size) {
            goto done;
        }
        const uint8_t *block_id = id_length >= 0 ? block + id_start : last_id;
        intptr_t block_id_count = id_length >= 0 ? id_length : last_id_count;
        bool id_in_chunk = id_length >= 0 || last_id_in_chunk;
        if (!id_in_chunk && !last_id_plain) goto done;
        // The parts around the data (each value stored as a whole vector), the data with a
        // backslash before every byte at most, and the last step's overrun.
        intptr_t data_length = line_end - data_start;
        intptr_t room = 128 + (id_in_chunk ? 32 : block_id_count) + 2 * data_length + 64;
        if (output_limit - output < room) {
            needs_room = true;
            goto done;
        }
        uint8_t *out = output;
        if (form == DRIP_FORM_JSON && repeats) {
            _mm512_storeu_si512(out, repeat_prefix);
            out += repeat_prefix_length;
        } else {
            out = write_head(form, out, block + type_start, type_length);
        }
        if (form == DRIP_FORM_TEXT) {
            if (block_id_count > 0) {
                COPY_LITERAL(out, " id=");
                out = write_value(out, block_id, block_id_count, id_in_chunk);
            }
            COPY_LITERAL(out, ": ");
        }
        // The data, 32 bytes a step (the last may read up to 31 bytes past the line, which are in
        // the chunk, as checked above). A control byte, a byte from 0x80 up, or DEL in the text
        // form, is left to the Swift path, which escapes it.
        for (intptr_t index = data_start; index < line_end; index += 32) {
            __m256i vector = load32(block + index);
            unsigned remaining = line_end - index < 32 ? (unsigned)(line_end - index) : 32;
            uint32_t controls = control_or_high_bytes(vector);
            if (form == DRIP_FORM_TEXT) controls |= delete_bytes(vector);
            if (_bzhi_u32(controls, remaining) != 0) goto done;
            uint32_t quoted = form == DRIP_FORM_JSON ? _bzhi_u32(quoted_bytes(vector), remaining) : 0;
            if (quoted == 0) {
                store32(out, vector);
            } else {
                write_escaped(out, vector, quoted);
            }
            out += remaining + _mm_popcnt_u32(quoted);
        }
        if (form == DRIP_FORM_JSON) {
            COPY_LITERAL(out, "\",\"lastEventId\":\"");
            out = write_value(out, block_id, block_id_count, id_in_chunk);
            COPY_LITERAL(out, "\"}\n");
        } else {
            COPY_LITERAL(out, "\n");
        }
        output = out;
        if (id_length >= 0) {
            last_id = block_id;
            last_id_count = block_id_count;
            last_id_in_chunk = true;
            last_id_plain = true;
            saw_id = true;
        }
        lines += header_lines + 2;
        blocks += 1;
        position += line_end + 2;
    }
done:
    progress->position = position;
    progress->last_event_id = last_id;
    progress->last_event_id_count = last_id_count;
    progress->last_event_id_in_chunk = last_id_in_chunk;
    progress->saw_id = saw_id;
    progress->lines = lines;
    progress->blocks = blocks;
    *written = output;
    return needs_room;
}

DRIP_VBMI2 bool drip_simple_blocks_write(drip_line_form form, const uint8_t *input, intptr_t count,
                                         drip_block_progress *progress, uint8_t **output, const uint8_t *output_limit,
                                         intptr_t max_line_length, intptr_t max_event_size) {
    if (form == DRIP_FORM_JSON) {
        return write_blocks(DRIP_FORM_JSON, input, count, progress, output, output_limit, max_line_length,
                            max_event_size);
    }
    return write_blocks(DRIP_FORM_TEXT, input, count, progress, output, output_limit, max_line_length,
                        max_event_size);
}

#else

bool drip_simple_blocks_available(void) { return false; }

bool drip_simple_blocks_write(drip_line_form form, const uint8_t *input, intptr_t count,
                              drip_block_progress *progress, uint8_t **output, const uint8_t *output_limit,
                              intptr_t max_line_length, intptr_t max_event_size) {
    (void)form, (void)input, (void)count, (void)progress, (void)output, (void)output_limit, (void)max_line_length,
        (void)max_event_size;
    return false;
}

#endif
