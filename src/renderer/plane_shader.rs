//! The texture program that draws a YUV buffer carried plane by plane
//! ([`crate::texture::planes`]): smithay's texture shader with the luma plane as its texture,
//! the chroma plane on texture unit 1, and the buffer's conversion as uniforms. One program per
//! GPU, compiled by that GPU's renderer when it first receives such a buffer
//! ([`Gpu::plane_program`](crate::gpu::Gpu)); drawn by `MultiFrame` (directly, or through
//! `draw_with_gles` for an output of another GPU).

use smithay::backend::renderer::gles::{
    ffi, GlesError, GlesFrame, GlesRenderer, GlesTexProgram, GlesTexture, Uniform, UniformName,
    UniformType,
};
use smithay::utils::{Buffer as BufferCoord, Physical, Rectangle, Transform};

use crate::texture::planes::PlanarDraw;

/// smithay's texture shader (its defines, `tex`, `alpha`, `v_coords`, the debug tint), with
/// the conversion of a luma and an interleaved chroma plane in between.
const SOURCE: &str = r#"#version 100

//_DEFINES_

#if defined(EXTERNAL)
#extension GL_OES_EGL_image_external : require
#endif

#ifdef GL_FRAGMENT_PRECISION_HIGH
precision highp float;
#else
precision mediump float;
#endif
#if defined(EXTERNAL)
uniform samplerExternalOES tex;
#else
uniform sampler2D tex;
#endif
uniform sampler2D chroma;
uniform vec2 yuv_offsets;
uniform float y_scale;
uniform vec4 chroma_terms;

uniform float alpha;
varying vec2 v_coords;

#if defined(DEBUG_FLAGS)
uniform float tint;
#endif

void main() {
    float y = (texture2D(tex, v_coords).r - yuv_offsets.x) * y_scale;
    vec2 uv = texture2D(chroma, v_coords).rg - vec2(yuv_offsets.y);
    vec3 rgb = vec3(
        y + chroma_terms.x * uv.y,
        y - chroma_terms.y * uv.x - chroma_terms.z * uv.y,
        y + chroma_terms.w * uv.x
    );
    vec4 color = vec4(clamp(rgb, 0.0, 1.0), 1.0) * alpha;

#if defined(DEBUG_FLAGS)
    if (tint == 1.0)
        color = vec4(0.0, 0.2, 0.0, 0.2) + color * 0.8;
#endif

    gl_FragColor = color;
}
"#;

/// The texture unit the chroma plane is bound to while a buffer is drawn.
const CHROMA_UNIT: i32 = 1;

/// Compiles the program on `renderer`.
pub(crate) fn compile(renderer: &mut GlesRenderer) -> Result<GlesTexProgram, GlesError> {
    renderer.compile_custom_texture_shader(
        SOURCE,
        &[
            UniformName::new("chroma", UniformType::_1i),
            UniformName::new("yuv_offsets", UniformType::_2f),
            UniformName::new("y_scale", UniformType::_1f),
            UniformName::new("chroma_terms", UniformType::_4f),
        ],
    )
}

/// Draws the buffer whose luma plane is `luma` as `Frame::render_texture_from_to` draws a
/// texture, converting to RGB on the way.
#[allow(clippy::too_many_arguments)]
pub(crate) fn draw(
    frame: &mut GlesFrame<'_, '_>,
    luma: &GlesTexture,
    planes: &PlanarDraw,
    src: Rectangle<f64, BufferCoord>,
    dst: Rectangle<i32, Physical>,
    damage: &[Rectangle<i32, Physical>],
    opaque_regions: &[Rectangle<i32, Physical>],
    transform: Transform,
    alpha: f32,
) -> Result<(), GlesError> {
    bind_chroma(frame, planes.chroma.tex_id())?;
    let ([y_offset, c_offset], [y, r_v, g_u, g_v, b_u]) = planes.conversion.normalized();
    let drawn = frame.render_texture_from_to(
        luma,
        src,
        dst,
        damage,
        opaque_regions,
        transform,
        alpha,
        Some(&planes.program),
        &[
            Uniform::new("chroma", CHROMA_UNIT),
            Uniform::new("yuv_offsets", (y_offset, c_offset)),
            Uniform::new("y_scale", y),
            Uniform::new("chroma_terms", (r_v, g_u, g_v, b_u)),
        ],
    );
    // smithay's own draws use unit 0 only; nothing is left bound on unit 1.
    bind_chroma(frame, 0)?;
    drawn
}

/// Binds texture `tex` (0: none) to the chroma unit, leaving unit 0 the active one.
fn bind_chroma(frame: &mut GlesFrame<'_, '_>, tex: ffi::types::GLuint) -> Result<(), GlesError> {
    frame.with_context(|gl| {
        // SAFETY: GL calls on the frame's current context; `tex` is a live texture of this
        // context (the chroma plane, held by the caller for the draw) or 0.
        unsafe {
            gl.ActiveTexture(ffi::TEXTURE0 + CHROMA_UNIT as u32);
            gl.BindTexture(ffi::TEXTURE_2D, tex);
            gl.ActiveTexture(ffi::TEXTURE0);
        }
    })
}
