//! The coherency rule for buffers two GPUs share, checked on the recorded order of operations
//! (llvmpipe finishes its work synchronously, so stale or torn pixels cannot be seen here): a
//! shadow slot is written only after the reading GPU's last read of it has been waited for, and
//! the reading GPU re-binds it after every write, before it reads again.
//!
//! An output's intermediate follows the same rule, but no test here claims it: `present()`
//! records the target's read and the wait for it itself, unconditionally, so a check on that
//! record would hold whatever the order of the GPU work was.

mod common;

use common::*;
use tandem::{Operation, OperationKind, Quirks};

const SIZE: (i32, i32) = (48, 32);
const OUT: (i32, i32) = (96, 64);

/// Checks the rule on `ops` for a buffer written on `writer` and read on `reader`; returns the
/// number of writes.
fn check_rule(ops: &[Operation], writer: tandem::GpuId, reader: tandem::GpuId) -> usize {
    let mut writes = 0;
    let mut read_since_wait = false;
    let mut read_before = false;
    let mut bound_since_write = true;
    for (at, op) in ops.iter().enumerate() {
        match (op.kind, op.gpu) {
            (OperationKind::Read, gpu) if gpu == reader => {
                assert!(
                    bound_since_write,
                    "read without a re-bind after the last write: {at} in {ops:?}"
                );
                read_since_wait = true;
                read_before = true;
            }
            (OperationKind::WaitForReads, gpu) if gpu == reader => read_since_wait = false,
            (OperationKind::Write, gpu) if gpu == writer => {
                assert!(
                    !(read_before && read_since_wait),
                    "written while a read may still be running: {at} in {ops:?}"
                );
                bound_since_write = false;
                writes += 1;
            }
            (OperationKind::Rebind, gpu) if gpu == reader => bound_since_write = true,
            _ => {}
        }
    }
    writes
}

#[test]
fn a_shadow_slot_is_written_after_its_last_read_and_re_bound_before_the_next() {
    let (mut server, mut client) = setup(2);
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
    server
        .state
        .gpus
        .gpu(gpu1)
        .expect("gpu1")
        .set_quirks(Quirks {
            imports_foreign_dmabufs: false,
            ..Quirks::default()
        });
    let mut out = server.output(gpu1, OUT);
    server.state.gpus.record_operations();
    let mut window = client.dmabuf_window(SIZE, 0);
    window.pixels().fill((0, 0, SIZE.0, SIZE.1), RED);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces[0].clone();
    for (frame, colour) in [RED, GREEN, BLUE, WHITE].into_iter().enumerate() {
        if frame > 0 {
            window.pixels().fill((4, 4, 8, 8), colour);
            window.commit(Some((4, 4, 8, 8)));
            roundtrip(&mut server, &mut client);
        }
        let pixels = server
            .render(&mut out, &[(&surface, (0, 0))], 1)
            .expect("frame");
        assert_eq!(pixel(&pixels, OUT.0, 6, 6), rgba(colour));
    }
    let ops = server.state.gpus.take_operations();
    let writes = check_rule(&ops, gpu0, gpu1);
    assert_eq!(writes, 4, "one slot write per commit: {ops:?}");
}
