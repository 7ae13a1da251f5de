#ifndef DRIP_C_SIMPLE_BLOCKS_H
#define DRIP_C_SIMPLE_BLOCKS_H

#include <stdbool.h>
#include <stdint.h>

/// Where the block writer is in a chunk, and the state it carries from block to block. Read and
/// updated by `drip_simple_blocks_write`; everything is moved past whole blocks only.
typedef struct {
    /// The start of the first block not written yet.
    intptr_t position;
    /// The last event id in force, and its length.
    const uint8_t *_Nullable last_event_id;
    intptr_t last_event_id_count;
    /// Whether `last_event_id` is plain bytes (under 32) read from this chunk with 32 bytes readable.
    bool last_event_id_in_chunk;
    /// Whether an id line was read.
    bool saw_id;
    /// The lines read, blank lines included.
    intptr_t lines;
    /// The blocks written.
    intptr_t blocks;
} drip_block_progress;

/// The line form to write.
typedef enum { DRIP_FORM_JSON = 0, DRIP_FORM_TEXT = 1 } drip_line_form;

/// Whether this processor runs `drip_simple_blocks_write`: x86-64 with AVX-512 (F, BW, VL, VBMI2)
/// and BMI2, its registers enabled by the operating system. Cheap after the first call.
bool drip_simple_blocks_available(void);

/// Writes the blocks of the commonest shape from `progress->position` on (optional id and event
/// lines, each under 32 bytes of printable ASCII, then one data line of ASCII, then a blank line,
/// every line ended by LF alone, with 128 bytes of the chunk from the block's start), in `form`, at
/// `*output`, moving both past each block written: byte for byte what `LineSink` writes for them.
/// Stops at the first block it does not take, so that the Swift path reads it. Returns true when it
/// stopped because the next block might not fit before `output_limit`. Must be called only when
/// `drip_simple_blocks_available()`.
bool drip_simple_blocks_write(
    drip_line_form form, const uint8_t *_Nonnull input, intptr_t count, drip_block_progress *_Nonnull progress,
    uint8_t *_Nonnull *_Nonnull output, const uint8_t *_Nonnull output_limit, intptr_t max_line_length,
    intptr_t max_event_size);

#endif
