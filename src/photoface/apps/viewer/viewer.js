// photoface viewer: the faces of one output folder, embedded in the page (see page.py for the
// data format). Plain WebGL 1, no library, nothing fetched: the page works from file:// offline.
"use strict";
(function () {
  const BACKGROUND = [0.125, 0.141, 0.165];
  const MODES = ["shaded", "albedo", "error"];
  const FOV_DEG = 30;

  // ---- data: base64 buffers, optionally zlib-deflated, into typed arrays ----

  function base64Bytes(text) {
    const bin = atob(text);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  async function inflate(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  const TYPES = { u8: Uint8Array, u16: Uint16Array, u32: Uint32Array, f32: Float32Array };

  async function decodeBuffer(buf) {
    let bytes = base64Bytes(buf.b64);
    if (buf.deflate) bytes = await inflate(bytes);
    if (buf.planes > 1) {
      // byte planes (all first bytes, then all second bytes, ...) back to little-endian elements
      const n = bytes.length / buf.planes;
      const out = new Uint8Array(bytes.length);
      for (let p = 0; p < buf.planes; p++) for (let i = 0; i < n; i++) out[i * buf.planes + p] = bytes[p * n + i];
      bytes = out;
    }
    return new TYPES[buf.dtype](bytes.buffer, 0, bytes.length / TYPES[buf.dtype].BYTES_PER_ELEMENT);
  }

  function vertexNormals(pos, tri) {
    const nrm = new Float32Array(pos.length);
    for (let f = 0; f < tri.length; f += 3) {
      const a = 3 * tri[f], b = 3 * tri[f + 1], c = 3 * tri[f + 2];
      const ux = pos[b] - pos[a], uy = pos[b + 1] - pos[a + 1], uz = pos[b + 2] - pos[a + 2];
      const vx = pos[c] - pos[a], vy = pos[c + 1] - pos[a + 1], vz = pos[c + 2] - pos[a + 2];
      const nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;  // area-weighted
      for (const k of [a, b, c]) { nrm[k] += nx; nrm[k + 1] += ny; nrm[k + 2] += nz; }
    }
    for (let k = 0; k < nrm.length; k += 3) {
      const l = Math.hypot(nrm[k], nrm[k + 1], nrm[k + 2]) || 1;
      nrm[k] /= l; nrm[k + 1] /= l; nrm[k + 2] /= l;
    }
    return nrm;
  }

  async function decodeMesh(data, m) {
    const topo = data.topologies[m.topology];
    if (!topo.decoded) {
      topo.decoded = { faces: await decodeBuffer(topo.faces), reference: await decodeBuffer(topo.reference),
        occlusion: topo.occlusion ? await decodeBuffer(topo.occlusion) : null };
    }
    const ref = topo.decoded.reference;
    const q = await decodeBuffer(m.positions);  // uint16 offsets from the reference, biased by 32768
    const pos = new Float32Array(ref.length);
    for (let i = 0; i < pos.length; i++) pos[i] = ref[i] + (q[i] - 32768) * m.step_mm;
    const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
    for (let i = 0; i < pos.length; i++) {
      const k = i % 3;
      if (pos[i] < lo[k]) lo[k] = pos[i];
      if (pos[i] > hi[k]) hi[k] = pos[i];
    }
    const center = [0, 1, 2].map((k) => (lo[k] + hi[k]) / 2);
    let r2 = 0;  // the farthest vertex from the centre: the mesh stays in view however it is turned
    for (let i = 0; i < pos.length; i += 3) {
      r2 = Math.max(r2, (pos[i] - center[0]) ** 2 + (pos[i + 1] - center[1]) ** 2 + (pos[i + 2] - center[2]) ** 2);
    }
    return {
      label: m.label, faces: topo.decoded.faces, positions: pos, normals: vertexNormals(pos, topo.decoded.faces),
      occlusion: topo.decoded.occlusion,
      colours: await decodeBuffer(m.colours), error: m.error ? await decodeBuffer(m.error) : null,
      errorMax: m.error_max_mm || 0, errorMean: m.error_mean_mm, center, radius: Math.sqrt(r2),
    };
  }

  // ---- WebGL ----

  const VERTEX_SHADER = `
    attribute vec3 aPos; attribute vec3 aNormal; attribute vec3 aColour; attribute float aError;
    attribute float aOcclusion;
    uniform mat4 uView; uniform mat4 uProj; uniform vec3 uCenter;
    varying vec3 vNormal; varying vec3 vColour; varying float vError; varying float vOcclusion;
    void main() {
      vNormal = (uView * vec4(aNormal, 0.0)).xyz;
      vColour = aColour; vError = aError; vOcclusion = aOcclusion;
      gl_Position = uProj * uView * vec4(aPos - uCenter, 1.0);
    }`;
  const FRAGMENT_SHADER = `
    precision mediump float;
    uniform int uMode;
    varying vec3 vNormal; varying vec3 vColour; varying float vError; varying float vOcclusion;
    vec3 errorColour(float t) {  // dark blue, teal, green, yellow: ordered and readable in grey
      vec3 c0 = vec3(0.18, 0.10, 0.42), c1 = vec3(0.13, 0.50, 0.55), c2 = vec3(0.37, 0.79, 0.38), c3 = vec3(0.99, 0.91, 0.15);
      t = clamp(t, 0.0, 1.0) * 3.0;
      return t < 1.0 ? mix(c0, c1, t) : (t < 2.0 ? mix(c1, c2, t - 1.0) : mix(c2, c3, t - 2.0));
    }
    void main() {
      vec3 n = normalize(vNormal);
      if (!gl_FrontFacing) n = -n;
      float diffuse = max(dot(n, normalize(vec3(-0.35, 0.45, 1.0))), 0.0);  // a light above-left of the camera
      vec3 c;
      // grey geometry has no shadows of its own: the face model's ambient occlusion darkens the
      // cavities (nostrils, mouth corners), which the light alone draws as lit flaps; the albedo
      // mode shows colours as they are (a texture read off photos already holds their shading)
      if (uMode == 0) c = vec3(0.72) * (0.22 + 0.78 * diffuse) * vOcclusion;
      else if (uMode == 1) c = vColour * (0.55 + 0.45 * diffuse);
      else c = errorColour(vError) * (0.55 + 0.45 * diffuse);
      gl_FragColor = vec4(c, 1.0);
    }`;

  function compile(gl, type, source) {
    const s = gl.createShader(type);
    gl.shaderSource(s, source);
    gl.compileShader(s);
    if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error("shader: " + gl.getShaderInfoLog(s));
    return s;
  }

  function program(gl) {
    const p = gl.createProgram();
    gl.attachShader(p, compile(gl, gl.VERTEX_SHADER, VERTEX_SHADER));
    gl.attachShader(p, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT_SHADER));
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error("program: " + gl.getProgramInfoLog(p));
    return p;
  }

  function perspective(fovDeg, aspect, near, far) {
    const f = 1 / Math.tan((fovDeg * Math.PI) / 360), nf = 1 / (near - far);
    return new Float32Array([f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) * nf, -1, 0, 0, 2 * far * near * nf, 0]);
  }

  // 3x3 rotations, row-major, right-handed, angles in degrees
  const rad = (d) => (d * Math.PI) / 180;
  function rotX(d) { const c = Math.cos(rad(d)), s = Math.sin(rad(d)); return [1, 0, 0, 0, c, -s, 0, s, c]; }
  function rotY(d) { const c = Math.cos(rad(d)), s = Math.sin(rad(d)); return [c, 0, s, 0, 1, 0, -s, 0, c]; }
  function rotZ(d) { const c = Math.cos(rad(d)), s = Math.sin(rad(d)); return [c, -s, 0, s, c, 0, 0, 0, 1]; }
  function mul3(a, b) {
    const out = new Array(9).fill(0);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) out[3 * i + j] += a[3 * i + k] * b[3 * k + j];
    return out;
  }
  const IDENTITY = [1, 0, 0, 0, 1, 0, 0, 0, 1];

  function photoRotation(pose) {
    // photoface's camera (render/camera.py): R = Rz(roll) Ry(yaw) Rx(pitch), +yaw turns the face to
    // the subject's left, +pitch tilts it down, +roll turns it counter-clockwise in the image
    if (!pose || pose.yaw_deg === undefined) return IDENTITY;
    return mul3(rotZ(pose.roll_deg || 0), mul3(rotY(pose.yaw_deg), rotX(pose.pitch_deg || 0)));
  }

  function orbitView(camera, distance) {
    // the photo's rotation (or none), then the user's turn: yaw about y, pitch about x; then back by distance
    const r = mul3(rotX(camera.pitch), mul3(rotY(camera.yaw), camera.base));
    return new Float32Array([r[0], r[3], r[6], 0, r[1], r[4], r[7], 0, r[2], r[5], r[8], 0, 0, 0, -distance, 1]);
  }

  class MeshView {
    constructor(canvas) {
      this.canvas = canvas;
      const gl = canvas.getContext("webgl", { antialias: true, preserveDrawingBuffer: true });
      if (!gl) throw new Error("this browser has no WebGL");
      this.gl = gl;
      this.uint32 = !!gl.getExtension("OES_element_index_uint");
      this.prog = program(gl);
      this.loc = {};
      for (const a of ["aPos", "aNormal", "aColour", "aError", "aOcclusion"]) this.loc[a] = gl.getAttribLocation(this.prog, a);
      for (const u of ["uView", "uProj", "uCenter", "uMode"]) this.loc[u] = gl.getUniformLocation(this.prog, u);
      this.panes = [];
      this.camera = { yaw: 0, pitch: 0, zoom: 1, base: IDENTITY };
      this.mode = "shaded";
      this.frames = 0;
    }

    upload(mesh) {
      const gl = this.gl;
      const buffer = (target, data) => {
        const b = gl.createBuffer();
        gl.bindBuffer(target, b);
        gl.bufferData(target, data, gl.STATIC_DRAW);
        return b;
      };
      let faces = mesh.faces;
      if (faces instanceof Uint32Array && !this.uint32) throw new Error("mesh needs 32-bit indices (OES_element_index_uint)");
      return {
        mesh, count: faces.length, indexType: faces instanceof Uint32Array ? gl.UNSIGNED_INT : gl.UNSIGNED_SHORT,
        pos: buffer(gl.ARRAY_BUFFER, mesh.positions), nrm: buffer(gl.ARRAY_BUFFER, mesh.normals),
        col: buffer(gl.ARRAY_BUFFER, mesh.colours),
        err: mesh.error ? buffer(gl.ARRAY_BUFFER, mesh.error) : null,
        occ: mesh.occlusion ? buffer(gl.ARRAY_BUFFER, mesh.occlusion) : null,
        idx: buffer(gl.ELEMENT_ARRAY_BUFFER, faces),
      };
    }

    show(meshes) {
      const gl = this.gl;
      for (const p of this.panes) for (const b of [p.pos, p.nrm, p.col, p.err, p.occ, p.idx]) if (b) gl.deleteBuffer(b);
      this.panes = meshes.map((m) => this.upload(m));
      this.draw();
    }

    draw() {
      const gl = this.gl, canvas = this.canvas;
      const dpr = window.devicePixelRatio || 1;
      const w = Math.max(1, Math.round(canvas.clientWidth * dpr)), h = Math.max(1, Math.round(canvas.clientHeight * dpr));
      if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
      gl.disable(gl.SCISSOR_TEST);
      gl.clearColor(BACKGROUND[0], BACKGROUND[1], BACKGROUND[2], 1);
      gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
      if (!this.panes.length) return;
      gl.useProgram(this.prog);
      gl.enable(gl.DEPTH_TEST);
      gl.enable(gl.SCISSOR_TEST);
      const n = this.panes.length, pw = Math.floor(w / n);
      // one scale for every pane, so that the photo's mesh and the identity compare in size
      const radius = Math.max(...this.panes.map((p) => p.mesh.radius));
      // the whole mesh in view in the narrower direction of the pane
      const halfFov = Math.min(rad(FOV_DEG) / 2, Math.atan(Math.tan(rad(FOV_DEG) / 2) * (pw / h)));
      const distance = (radius / Math.sin(halfFov)) * 1.02 / this.camera.zoom;
      const view = orbitView(this.camera, distance);
      const proj = perspective(FOV_DEG, pw / h, Math.max(distance - 4 * radius, distance / 100), distance + 4 * radius);
      const mode = MODES.indexOf(this.mode);
      this.panes.forEach((p, i) => {
        gl.viewport(i * pw, 0, pw, h);
        gl.scissor(i * pw, 0, pw, h);
        gl.uniformMatrix4fv(this.loc.uView, false, view);
        gl.uniformMatrix4fv(this.loc.uProj, false, proj);
        gl.uniform3fv(this.loc.uCenter, p.mesh.center);
        gl.uniform1i(this.loc.uMode, mode === 2 && !p.err ? 0 : mode);
        const attr = (loc, buf, size, type, normalized) => {
          gl.bindBuffer(gl.ARRAY_BUFFER, buf);
          gl.enableVertexAttribArray(loc);
          gl.vertexAttribPointer(loc, size, type, normalized, 0, 0);
        };
        attr(this.loc.aPos, p.pos, 3, gl.FLOAT, false);
        attr(this.loc.aNormal, p.nrm, 3, gl.FLOAT, false);
        attr(this.loc.aColour, p.col, 3, gl.UNSIGNED_BYTE, true);
        if (p.err) attr(this.loc.aError, p.err, 1, gl.UNSIGNED_BYTE, true);
        else { gl.disableVertexAttribArray(this.loc.aError); gl.vertexAttrib1f(this.loc.aError, 0); }
        if (p.occ) attr(this.loc.aOcclusion, p.occ, 1, gl.UNSIGNED_BYTE, true);
        else { gl.disableVertexAttribArray(this.loc.aOcclusion); gl.vertexAttrib1f(this.loc.aOcclusion, 1); }
        gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, p.idx);
        gl.drawElements(gl.TRIANGLES, p.count, p.indexType, 0);
      });
      this.frames++;
    }
  }

  // ---- page ----

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  function fmt(v) {
    if (v === null || v === undefined) return "–";
    if (typeof v !== "number") return String(v);
    if (!isFinite(v)) return String(v);
    return Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(2) : v.toFixed(Math.abs(v) >= 100 ? 1 : 3);
  }

  function codesTable(codes) {
    const box = el("div", { class: "codes" });
    if (codes.pose) {
      const t = el("table", {}, el("tr", {}, el("th", { colspan: 2 }, "pose")));
      for (const [k, v] of Object.entries(codes.pose)) t.append(el("tr", {}, el("td", {}, k), el("td", {}, fmt(v))));
      box.append(t);
    }
    if (codes.numbers && Object.keys(codes.numbers).length) {
      const t = el("table", {}, el("tr", {}, el("th", { colspan: 2 }, "fit")));
      for (const [k, v] of Object.entries(codes.numbers)) t.append(el("tr", {}, el("td", {}, k), el("td", {}, fmt(v))));
      box.append(t);
    }
    if (codes.expression) {
      const peak = Math.max(1e-9, ...codes.expression.map(Math.abs));
      const t = el("table", { class: "expr" }, el("tr", {}, el("th", { colspan: 3 }, `expression (${codes.expression.length})`)));
      codes.expression.forEach((v, i) => {
        const bar = el("span", { class: "bar" + (v < 0 ? " neg" : "") });
        bar.style.width = (40 * Math.abs(v)) / peak + "px";
        t.append(el("tr", {}, el("td", {}, String(i)), el("td", {}, fmt(v)), el("td", {}, bar)));
      });
      box.append(t);
    }
    return box;
  }

  async function main() {
    const data = JSON.parse(document.getElementById("photoface-data").textContent);
    document.title = data.title;
    document.getElementById("title").textContent = data.title;
    document.getElementById("notes").textContent = data.notes || "";
    const view = new MeshView(document.getElementById("mesh"));
    const cache = new Map();
    const state = { index: -1, overlay: true, posed: false };
    const grid = document.getElementById("grid");
    const photo = document.getElementById("photo");
    const modeButtons = {};
    for (const m of MODES) {
      modeButtons[m] = document.getElementById("mode-" + m);
      modeButtons[m].addEventListener("click", () => api.setMode(m));
    }
    const overlayBox = document.getElementById("overlay");
    overlayBox.addEventListener("change", () => { state.overlay = overlayBox.checked; showPhoto(); });
    const posedBox = document.getElementById("posed");
    posedBox.addEventListener("change", () => api.setPosed(posedBox.checked));

    function resetCamera() {
      const pose = state.posed && state.index >= 0 ? (data.faces[state.index].codes || {}).pose : null;
      view.camera = { yaw: 0, pitch: 0, zoom: view.camera.zoom, base: photoRotation(pose) };
    }

    let group = null;
    data.faces.forEach((f, i) => {
      if (f.group !== group) {
        group = f.group;
        if (group) grid.append(el("div", { class: "group" }, group));
      }
      grid.append(el("img", { src: f.thumb, title: f.name, alt: f.name, class: "thumb", "data-index": i,
        onclick: () => api.select(i) }));
    });

    function showPhoto() {
      const f = data.faces[state.index];
      photo.src = state.overlay && f.overlay ? f.overlay : f.photo;
    }

    function meshOf(i) {
      if (!cache.has(i)) cache.set(i, Promise.all(data.faces[i].meshes.map((k) => decodeMesh(data, data.meshes[k]))));
      return cache.get(i);
    }

    function legend(meshes) {
      const box = document.getElementById("legend");
      box.textContent = "";
      const labels = document.getElementById("labels");
      labels.textContent = "";
      for (const m of meshes) labels.append(el("span", {}, m.label));
      const withError = meshes.filter((m) => m.error);
      if (view.mode === "error" && withError.length) {
        const m = withError[0];
        box.append(el("span", {}, "0 mm"), el("span", { class: "ramp" }), el("span", {}, `${fmt(m.errorMax)} mm`),
          el("span", { class: "small" }, ` per-vertex distance to the true mesh (mean ${fmt(m.errorMean)} mm)`));
      } else if (view.mode === "albedo") {
        box.append(el("span", { class: "small" }, "albedo (vertex colours) under a white light"));
      } else {
        box.append(el("span", { class: "small" }, "shape, grey, lit; drag to turn, wheel to zoom, double-click to reset the view"));
      }
    }

    const api = {
      faces: data.faces.length,
      async select(i) {
        state.index = i;
        for (const t of grid.querySelectorAll(".thumb")) t.classList.toggle("on", Number(t.dataset.index) === i);
        const f = data.faces[i];
        document.getElementById("name").textContent = (f.group ? f.group + " / " : "") + f.name;
        showPhoto();
        const codes = document.getElementById("codes");
        codes.textContent = "";
        codes.append(codesTable(f.codes || {}));
        const meshes = await meshOf(i);
        if (state.index !== i) return;
        if (state.posed) resetCamera();
        const hasError = meshes.some((m) => m.error);
        modeButtons.error.disabled = !hasError;
        if (!hasError && view.mode === "error") view.mode = "shaded";
        view.show(meshes);
        api.setMode(view.mode);
      },
      setPosed(on) {
        state.posed = !!on;
        posedBox.checked = state.posed;
        resetCamera();
        view.draw();
      },
      setMode(m) {
        if (!MODES.includes(m)) throw new Error("unknown mode " + m);
        view.mode = m;
        for (const k of MODES) modeButtons[k].classList.toggle("on", k === m);
        legend(view.panes.map((p) => p.mesh));
        view.draw();
      },
      state() {
        return { index: state.index, mode: view.mode, yaw: view.camera.yaw, pitch: view.camera.pitch,
          zoom: view.camera.zoom, panes: view.panes.length, frames: view.frames, overlay: state.overlay, posed: state.posed,
          errorEnabled: !modeButtons.error.disabled };
      },
    };

    const canvas = view.canvas;
    let drag = null;
    canvas.addEventListener("mousedown", (e) => { drag = { x: e.clientX, y: e.clientY }; e.preventDefault(); });
    window.addEventListener("mouseup", () => { drag = null; });
    window.addEventListener("mousemove", (e) => {
      if (!drag) return;
      view.camera.yaw += (e.clientX - drag.x) * 0.5;
      view.camera.pitch = Math.max(-89, Math.min(89, view.camera.pitch + (e.clientY - drag.y) * 0.5));
      drag = { x: e.clientX, y: e.clientY };
      view.draw();
    });
    canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      view.camera.zoom = Math.max(0.3, Math.min(8, view.camera.zoom * Math.exp(-e.deltaY * 0.0015)));
      view.draw();
    }, { passive: false });
    canvas.addEventListener("dblclick", () => { resetCamera(); view.camera.zoom = 1; view.draw(); });
    window.addEventListener("resize", () => view.draw());

    window.photofaceViewer = api;
    if (data.faces.length) await api.select(0);
  }

  window.photofaceReady = main().catch((err) => {
    document.getElementById("notes").textContent = "viewer error: " + err.message;
    console.error(err);
    throw err;
  });
})();
