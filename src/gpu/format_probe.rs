//! Which dmabuf formats a GPU's clients may be offered: those Tandem has carried.
//!
//! A format and modifier is offered to the clients of a GPU only once a small test buffer of it,
//! allocated by that GPU's allocator, was imported there and carried to every other GPU by the
//! copy code itself ([`crate::renderer::copy`]): whatever path each pair takes is the one a
//! client's buffer of that format will take. Only [`CARRIED_FORMATS`] are tried. The compositor
//! asks [`GpuManager::carried_formats`] when it publishes a GPU's linux-dmabuf global and
//! feedback; the answer is kept until the set of GPUs changes. [`GpuManager::accept_client_dmabuf`]
//! refuses a buffer whose format is not among them, and a format whose import fails at accept
//! time is held off for that client on that GPU by the failure memory ([`super::failures`]).
//!
//! Linear is tried for every format a GPU lists, whatever modifiers it lists: clients such as
//! GBM's linear buffer objects send it, and such a buffer is accepted once linear was carried.
//! The global advertises only the modifiers the GPU lists itself, so that clients which pick
//! from the list (Xwayland's glamor) keep the modifiers the GPU prefers. A software GPU's
//! allocator makes linear buffers only; llvmpipe reads implicit-modifier buffers as linear, so
//! the implicit modifier is offered wherever linear was carried.

use std::collections::HashMap;

use smithay::backend::allocator::{Format, Fourcc, Modifier};
use smithay::utils::Rectangle;

use super::{GpuId, GpuManager};
use crate::error::TandemError;
use crate::renderer::copy::{import_dmabuf, DmabufImport};
use crate::texture::pixel_format::CARRIED_FORMATS;

/// The side of the square test buffers (even, so subsampled formats lay out).
const PROBE_SIZE: u32 = 16;

/// What one probe of a GPU found, and the GPUs it was carried to.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProbedFormats {
    /// Every GPU of the manager when the probe ran, parked ones included (the test buffers
    /// were carried to the awake ones: a probe wakes no GPU).
    known: Vec<GpuId>,
    /// The formats clients of the GPU may send.
    carried: Vec<Format>,
    /// Of those, the ones its linux-dmabuf global advertises: those the GPU itself lists
    /// (module docs).
    advertised: Vec<Format>,
    /// Of those, the ones the GPU itself does not import: converted on the CPU (YUV).
    converted: Vec<Format>,
    /// Formats the GPU lists that could not be carried, and why.
    refused: Vec<(Format, String)>,
}

/// The format probes of every GPU, by GPU.
pub(crate) type FormatProbes = HashMap<GpuId, ProbedFormats>;

impl GpuManager {
    /// The formats and modifiers `gpu`'s linux-dmabuf global advertises: every one of
    /// [`CARRIED_FORMATS`] the GPU lists whose test buffer was carried from it to every other
    /// awake GPU of the manager (linear is also accepted where it was carried; module docs) (probed now unless the GPUs are the same as
    /// at the last probe; a parked GPU is not woken for it). Copy statistics are left as they
    /// were.
    pub fn carried_formats(&mut self, gpu: GpuId) -> Result<Vec<Format>, TandemError> {
        let gpus = self.gpu_ids();
        let mut known = gpus.clone();
        known.extend(self.parked_gpu_ids());
        if let Some(probe) = self
            .format_probes
            .get(&gpu)
            .filter(|p| p.known.len() == known.len() && known.iter().all(|g| p.known.contains(g)))
        {
            return Ok(probe.advertised.clone());
        }
        // The probed GPU itself must be awake (woken if it was parked).
        self.gpu(gpu)?;
        let gpus = self.gpu_ids();
        // The probe's failures are its report, not held-off paths; its copies count nowhere.
        let stats = self.stats;
        let failures = std::mem::take(&mut self.failed_paths);
        self.probing_formats = true;
        let probe = self.probe_formats(gpu, gpus, known);
        self.probing_formats = false;
        self.stats = stats;
        self.failed_paths = failures;
        let probe = probe?;
        for (format, reason) in &probe.refused {
            tracing::info!(%gpu, ?format, %reason, "format not offered to clients");
        }
        tracing::info!(%gpu, carried = probe.carried.len(), refused = probe.refused.len(), "probed client formats");
        let advertised = probe.advertised.clone();
        self.format_probes.insert(gpu, probe);
        Ok(advertised)
    }

    /// The formats `gpu`'s clients were offered at its last probe (none before the first).
    pub fn offered_formats(&self, gpu: GpuId) -> Vec<Format> {
        self.format_probes
            .get(&gpu)
            .map(|probe| probe.advertised.clone())
            .unwrap_or_default()
    }

    /// The formats of `gpu`'s last probe that were not offered, and why.
    pub fn refused_formats(&self, gpu: GpuId) -> Vec<(Format, String)> {
        self.format_probes
            .get(&gpu)
            .map(|probe| probe.refused.clone())
            .unwrap_or_default()
    }

    /// Whether `gpu` shows `format` only by converting it on the CPU, as last probed.
    pub(crate) fn converts_format(&self, gpu: GpuId, format: Format) -> bool {
        self.format_probes
            .get(&gpu)
            .is_some_and(|probe| probe.converted.contains(&format))
    }

    /// Whether a client buffer of `format` may be accepted for `gpu`: offered by its current
    /// probe (made now if there is none).
    pub(crate) fn offers_format(
        &mut self,
        gpu: GpuId,
        format: Format,
    ) -> Result<bool, TandemError> {
        self.carried_formats(gpu)?;
        Ok(self
            .format_probes
            .get(&gpu)
            .is_some_and(|probe| probe.carried.contains(&format)))
    }

    fn probe_formats(
        &mut self,
        gpu: GpuId,
        gpus: Vec<GpuId>,
        known: Vec<GpuId>,
    ) -> Result<ProbedFormats, TandemError> {
        let listed = self.awake_gpu(gpu)?.client_dmabuf_formats();
        let software = matches!(gpu, GpuId::Software(_));
        let mut probe = ProbedFormats {
            known,
            ..ProbedFormats::default()
        };
        for fourcc in CARRIED_FORMATS {
            let mut modifiers: Vec<Modifier> = listed
                .iter()
                .filter(|format| format.code == fourcc)
                .map(|format| format.modifier)
                .collect();
            // Linear buffers are what clients of another device's memory send (GBM's linear
            // buffer objects, udmabufs): tried wherever the format is listed at all.
            if !modifiers.is_empty() && !modifiers.contains(&Modifier::Linear) {
                modifiers.push(Modifier::Linear);
            }
            if software {
                // Only linear can be made; the implicit modifier follows it (module docs).
                modifiers.retain(|modifier| *modifier == Modifier::Linear);
            }
            for modifier in modifiers {
                let format = Format {
                    code: fourcc,
                    modifier,
                };
                match self.carry_test_buffer(gpu, fourcc, modifier, &gpus) {
                    Ok(imported) => {
                        let mut formats = vec![format];
                        if software {
                            formats.push(Format {
                                code: fourcc,
                                modifier: Modifier::Invalid,
                            });
                        }
                        if !imported {
                            probe.converted.extend(formats.iter().copied());
                        }
                        probe
                            .advertised
                            .extend(formats.iter().filter(|f| listed.contains(f)));
                        probe.carried.extend(formats);
                    }
                    Err(err) => probe.refused.push((format, err.to_string())),
                }
            }
        }
        Ok(probe)
    }

    /// Allocates a test buffer of `fourcc` and `modifier` on `source` and carries it to every
    /// GPU of `gpus` (`source` itself: a direct import, or a conversion) through the copy code;
    /// true when `source` imported it itself.
    fn carry_test_buffer(
        &mut self,
        source: GpuId,
        fourcc: Fourcc,
        modifier: Modifier,
        gpus: &[GpuId],
    ) -> Result<bool, TandemError> {
        let buffer = self.awake_gpu(source)?.allocator().allocate(
            PROBE_SIZE,
            PROBE_SIZE,
            fourcc,
            &[modifier],
        )?;
        let damage = [Rectangle::from_size(
            (PROBE_SIZE as i32, PROBE_SIZE as i32).into(),
        )];
        let mut imported = false;
        let result = gpus.iter().try_for_each(|&target| {
            let job = DmabufImport {
                dmabuf: &buffer,
                damage: &damage,
                owner: None,
                source,
                target,
                last_read: None,
            };
            let entry = import_dmabuf(self, job, None)?;
            if target == source {
                imported = entry.path() == crate::texture::PathKind::Native;
            }
            Ok::<(), TandemError>(())
        });
        // What the test imports held goes at the next cleanup, like any released texture.
        drop(buffer);
        result.map(|()| imported)
    }
}
