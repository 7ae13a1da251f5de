import CSimpleBlocks

/// The line forms' widest path: `SimpleBlocks`' blocks written by a C kernel compiled for AVX-512
/// VBMI2 (`CSimpleBlocks`), which Swift cannot target one function at a time. It finds a block's
/// lines from one classification of its first 128 bytes and escapes quotes without a branch per
/// quote: on `scripts/bench/connect`'s 50 MB, the time spent writing blocks falls from about 14.5 ms
/// to 11.5 ms. It takes only blocks of the commonest shape (ASCII data, LF line ends), writing
/// exactly what `LineSink` writes, and stops at the first other block, which `SimpleBlocks` or the
/// general path then reads.
enum VectorBlocks {
    /// Whether this processor has the instructions the kernel needs (checked once).
    static var isAvailable: Bool { drip_simple_blocks_available() }

    /// Writes the blocks from `progress.position` on at `output` in `form`, moving both past each
    /// block written. Returns whether it stopped because the next block might not fit before
    /// `outputLimit`, and how many blocks it wrote. Only when `isAvailable`.
    static func write(
        _ form: EventStreamParser.LineForm, _ input: UnsafeBufferPointer<UInt8>, _ progress: inout FastBlockProgress,
        output: inout UnsafeMutablePointer<UInt8>, outputLimit: UnsafeMutablePointer<UInt8>, limits: EventStreamParser.Limits
    ) -> (needsRoom: Bool, blocks: Int) {
        guard let base = input.baseAddress else { return (false, 0) }
        var state = drip_block_progress(
            position: progress.position, last_event_id: progress.lastEventId.baseAddress, last_event_id_count: progress.lastEventId.count,
            last_event_id_in_chunk: false, saw_id: progress.sawId, lines: progress.lines, blocks: 0)
        let needsRoom = drip_simple_blocks_write(
            form == .json ? DRIP_FORM_JSON : DRIP_FORM_TEXT, base, input.count, &state, &output, outputLimit, limits.maxLineLength,
            limits.maxEventSize)
        progress.position = state.position
        progress.lastEventId = UnsafeBufferPointer(start: state.last_event_id, count: state.last_event_id_count)
        progress.sawId = state.saw_id
        progress.lines = state.lines
        return (needsRoom, state.blocks)
    }
}
