// cim view --review: the reviewed submission in place (failing elements red), its failing checks and clash points.
'use strict';

window.cimReview = (() => {
  const FAIL = Cesium.Color.fromCssColorString('#d32f2f');
  const OK = Cesium.Color.fromCssColorString('#b0bec5');
  const OUTLINE = { parcel: '#2e7d32', setback_line: '#66bb6a', footprint: '#1565c0' };

  function decode(text, Type) {
    const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    return new Type(bytes.buffer);
  }
  function escapeHtml(value) {
    return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;',
      "'": '&#39;' }[c]));
  }

  function meshInstance(m) {
    const positions = decode(m.positions, Float64Array);
    const geometry = new Cesium.Geometry({
      attributes: {
        position: new Cesium.GeometryAttribute({ componentDatatype: Cesium.ComponentDatatype.DOUBLE,
          componentsPerAttribute: 3, values: positions }),
      },
      indices: decode(m.indices, Uint32Array),
      primitiveType: Cesium.PrimitiveType.TRIANGLES,
      boundingSphere: Cesium.BoundingSphere.fromVertices(positions),
    });
    Cesium.GeometryPipeline.computeNormal(geometry);
    const colour = m.fails.length ? FAIL : OK;
    return new Cesium.GeometryInstance({ geometry, id: { cimSubmission: m },
      attributes: { color: Cesium.ColorGeometryInstanceAttribute.fromColor(colour) } });
  }

  function footprintEntity(viewer, review) {
    const outline = review.outlines.find((o) => o.kind === 'footprint');
    if (!outline) return null;
    return viewer.entities.add({
      polygon: { hierarchy: Cesium.Cartesian3.fromDegreesArrayHeights(outline.positions), perPositionHeight: false,
        height: review.ground_m, extrudedHeight: review.ground_m + (review.height_m || 10),
        material: (review.failed.length ? FAIL : OK).withAlpha(0.6) },
      cimSubmission: { model_id: review.model_id, global_id: null, fails: review.failed.map((c) => c.check_id) },
    });
  }

  function panel(review) {
    const box = document.getElementById('review');
    box.hidden = false;
    const items = review.failed.map((c) => `<li class="fail">${escapeHtml(c.title)}: ${escapeHtml(c.message)}</li>`);
    box.innerHTML = `<strong>Review: ${escapeHtml(review.model_id)}</strong>` +
      (review.parcel_id ? ` on ${escapeHtml(review.parcel_id)}` : '') +
      ` <span class="verdict-${escapeHtml(review.verdict)}">${escapeHtml(review.verdict.toUpperCase())}</span>` +
      `<ul>${items.join('')}</ul>` + (review.note ? `<div>${escapeHtml(review.note)}</div>` : '');
  }

  async function load(viewer, url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    const review = await response.json();
    const spheres = [];
    if (review.meshes.length) {
      const instances = review.meshes.map(meshInstance);
      instances.forEach((i) => spheres.push(i.geometry.boundingSphere));
      viewer.scene.primitives.add(new Cesium.Primitive({ geometryInstances: instances, asynchronous: false,
        appearance: new Cesium.PerInstanceColorAppearance({ flat: false, translucent: false, closed: false }) }));
    } else {
      const entity = footprintEntity(viewer, review);
      if (entity) {
        const pts = Cesium.Cartesian3.fromDegreesArrayHeights(review.outlines.find((o) => o.kind === 'footprint').positions);
        spheres.push(Cesium.BoundingSphere.fromPoints(pts));
      }
    }
    for (const o of review.outlines) {
      const positions = Cesium.Cartesian3.fromDegreesArrayHeights(o.positions);
      viewer.entities.add({ polyline: { positions, width: o.kind === 'parcel' ? 3 : 2,
        material: Cesium.Color.fromCssColorString(OUTLINE[o.kind] || '#333') } });
      if (!spheres.length) spheres.push(Cesium.BoundingSphere.fromPoints(positions));
    }
    for (const c of review.clashes) {
      viewer.entities.add({ position: Cesium.Cartesian3.fromDegrees(c.lon, c.lat, c.height),
        point: { pixelSize: 12, color: FAIL, outlineColor: Cesium.Color.WHITE, outlineWidth: 2,
          disableDepthTestDistance: Number.POSITIVE_INFINITY },
        cimClash: { ...c, status: 'review' } });
    }
    panel(review);
    review.boundingSphere = spheres.length ? Cesium.BoundingSphere.fromBoundingSpheres(spheres)
      : new Cesium.BoundingSphere(Cesium.Cartesian3.ZERO, 1000);
    return review;
  }

  return { load };
})();
