// cim view: the store's 3D Tiles over the city's own GIS layers, clash points, a review's submission, picking.
// Nothing comes from the internet: no ion token, no imagery, no terrain; CesiumJS is served from node_modules.
'use strict';

const PHASE_COLOURS = { plan: '#42a5f5', build: '#ffa726', manage: '#9e9e9e' };
const STATUS_COLOURS = { new: '#e53935', active: '#fb8c00', approved: '#1e88e5', resolved: '#43a047' };
const MODEL_PALETTE = ['#8d6e63', '#5c6bc0', '#26a69a', '#ec407a', '#7e57c2', '#9ccc65', '#ffca28', '#29b6f6',
  '#ef5350', '#78909c'];
const LAYER_STYLE = {
  parcels: { fill: '#8fbc7f', stroke: '#2e7d32' },
  road_redlines: { fill: '#d98f88', stroke: '#c62828' },
  roads: { fill: '#bdbdbd', stroke: '#424242' },
  pipelines: { stroke: '#0277bd' },
};
const GROUND = '#a7b49a';
const UNDERGROUND_ALPHA = 0.18;  // the ground seen through when looking at the tunnel and pipes

const state = {
  firstFrameMs: null, tilesLoaded: 0, allTilesLoaded: false, picked: null, errors: [],
  colourMode: 'model', config: null, clashes: [], statusByElement: {}, review: null,
};
window.cimViewer = state;
state.viewer = null;  // set below: for the console and the benchmark

Cesium.Ion.defaultAccessToken = '';
const viewer = new Cesium.Viewer('map', {
  // No globe: with no imagery it only costs frame time; the ground is the city's own GIS layers on a plane.
  globe: false, baseLayer: false, baseLayerPicker: false, geocoder: false,
  animation: false, timeline: false, homeButton: false, sceneModePicker: false, navigationHelpButton: false,
  fullscreenButton: false, infoBox: false, selectionIndicator: false, skyBox: false, skyAtmosphere: false,
  contextOptions: { webgl: { preserveDrawingBuffer: true } },
  requestRenderMode: true, maximumRenderTimeChange: Infinity,  // draw on change only: an idle page costs no CPU
  msaaSamples: 1, shouldAnimate: false,
});
// Light the city as at local solar noon on midsummer's day, whatever the time of day the page is opened.
function noonAt(lon) {
  const noon = Cesium.JulianDate.fromIso8601('2026-06-21T12:00:00Z');
  return Cesium.JulianDate.addHours(noon, -lon / 15, new Cesium.JulianDate());
}
const scene = viewer.scene;
state.viewer = viewer;
scene.postProcessStages.fxaa.enabled = false;
scene.backgroundColor = Cesium.Color.fromCssColorString('#dfe7ef');
scene.postRender.addEventListener(() => {
  if (state.firstFrameMs === null) state.firstFrameMs = performance.now();
});

const $ = (id) => document.getElementById(id);
const status = (text) => { $('status').textContent = text; };
async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}
function escapeHtml(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;',
    "'": '&#39;' }[c]));
}

// ---- the tileset and its colours --------------------------------------------------------------------------
let tileset = null;
const modelColours = {};

function colourFor(feature) {
  const model = feature.getProperty('model_id');
  if (state.colourMode === 'phase') return PHASE_COLOURS[feature.getProperty('phase')] || '#bdbdbd';
  if (state.colourMode === 'clash') {
    const s = state.statusByElement[`${model}/${feature.getProperty('global_id')}`];
    return s ? STATUS_COLOURS[s] : null;
  }
  return modelColours[model] || '#bdbdbd';
}

function applyStyle() {
  if (!tileset) return;
  const style = new Cesium.Cesium3DTileStyle();
  style.color = {
    evaluateColor(feature, result) {
      const css = colourFor(feature);
      if (css === null) return Cesium.Color.fromCssColorString('#cfd8dc').withAlpha(0.35, result);
      return Cesium.Color.fromCssColorString(css, result);
    },
  };
  tileset.style = style;
  drawLegend();
  scene.requestRender();
}

function drawLegend() {
  const entries = state.colourMode === 'phase' ? PHASE_COLOURS : state.colourMode === 'clash' ? STATUS_COLOURS
    : modelColours;
  $('legend').innerHTML = Object.entries(entries)
    .map(([name, css]) => `<span class="sw" style="background:${css}"></span>${escapeHtml(name)}`).join(' ');
}

async function loadTileset(url) {
  tileset = await Cesium.Cesium3DTileset.fromUrl(url);
  tileset.tileLoad.addEventListener(() => { state.tilesLoaded += 1; });
  tileset.allTilesLoaded.addEventListener(() => { state.allTilesLoaded = true; });
  tileset.tileFailed.addEventListener((e) => state.errors.push(`tile ${e.url}: ${e.message}`));
  scene.primitives.add(tileset);
  applyStyle();
  return tileset;
}

// ---- the ground: the city's own GIS layers -----------------------------------------------------------------
const groundEntities = [];
async function loadLayer(name, ground, order) {
  const geojson = await getJson(`/api/layer?name=${encodeURIComponent(name)}`);
  const style = LAYER_STYLE[name] || { fill: '#fff59d', stroke: '#f9a825' };
  const source = await Cesium.GeoJsonDataSource.load(geojson, { clampToGround: false });
  for (const entity of source.entities.values) {
    entity.cimLayer = name;
    if (entity.polygon) {
      entity.polygon.height = ground + 0.02 * (order + 1);
      entity.polygon.perPositionHeight = false;
      entity.polygon.material = Cesium.Color.fromCssColorString(style.fill);
      entity.polygon.outline = false;
      groundEntities.push(entity);
    }
    if (entity.polyline) {
      const width = entity.properties.red_line_width_m?.getValue();
      entity.polyline.material = Cesium.Color.fromCssColorString(style.stroke);
      entity.polyline.width = width ? 6 : 3;
    }
    if (entity.billboard) {
      entity.billboard = undefined;
      entity.point = new Cesium.PointGraphics({ pixelSize: 6, color: Cesium.Color.fromCssColorString(style.stroke) });
    }
  }
  await viewer.dataSources.add(source);
}

function addGroundPlane(extent, ground) {
  const plane = viewer.entities.add({
    polygon: { hierarchy: Cesium.Cartesian3.fromDegreesArray(extent), height: ground - 0.05,
      material: Cesium.Color.fromCssColorString(GROUND) },
  });
  groundEntities.push(plane);
}

function setUnderground(on) {
  for (const entity of groundEntities) {
    const colour = entity.polygon.material.color.getValue();
    entity.polygon.material = colour.withAlpha(on ? UNDERGROUND_ALPHA : 1.0);
  }
  scene.requestRender();
}

// ---- clash points ---------------------------------------------------------------------------------------------
const clashSource = new Cesium.CustomDataSource('clashes');
viewer.dataSources.add(clashSource);
function drawClashes(clashes) {
  for (const c of clashes) {
    clashSource.entities.add({
      position: Cesium.Cartesian3.fromDegrees(c.lon, c.lat, c.height),
      point: { pixelSize: 11, color: Cesium.Color.fromCssColorString(STATUS_COLOURS[c.status] || '#000'),
        outlineColor: Cesium.Color.WHITE, outlineWidth: 2, disableDepthTestDistance: Number.POSITIVE_INFINITY },
      cimClash: c,
    });
  }
}

// ---- picking ----------------------------------------------------------------------------------------------------
let highlighted = null;
function showTable(title, rows) {
  const body = rows.filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(typeof v === 'object' ? JSON.stringify(v) : v)}</td></tr>`)
    .join('');
  $('pick').innerHTML = `<strong>${escapeHtml(title)}</strong><table>${body}</table>`;
}

async function pickElement(modelId, globalId) {
  state.picked = { model_id: modelId, global_id: globalId, loaded: false };
  const url = `/api/element?model_id=${encodeURIComponent(modelId)}&global_id=${encodeURIComponent(globalId)}`;
  const element = await getJson(url);
  const rows = Object.entries(element).filter(([k]) => !['clashes'].includes(k));
  rows.unshift(['GlobalId', element.global_id]);
  for (const c of element.clashes || []) rows.push([`clash ${c.clash_id}`, `${c.status} (${c.rule}, ${c.severity})`]);
  showTable(`${element.ifc_class || modelId} ${element.name || ''}`, rows);
  state.picked = { model_id: modelId, global_id: element.global_id, ifc_class: element.ifc_class, loaded: true };
}

function onClick(click) {
  const picked = scene.pick(click.position);
  if (highlighted) { highlighted.feature.color = highlighted.colour; highlighted = null; }
  if (picked instanceof Cesium.Cesium3DTileFeature) {
    highlighted = { feature: picked, colour: Cesium.Color.clone(picked.color) };
    picked.color = Cesium.Color.YELLOW;
    pickElement(picked.getProperty('model_id'), picked.getProperty('global_id')).catch(report);
  } else if (picked && picked.id && picked.id.cimClash) {
    const c = picked.id.cimClash;
    showTable(`Clash ${c.clash_id}`, Object.entries(c));
    state.picked = { clash_id: c.clash_id, loaded: true };
  } else if (picked && picked.id && picked.id.cimSubmission) {
    const m = picked.id.cimSubmission;
    showTable(`Submission: ${m.ifc_class || ''} ${m.name || ''}`, [['GlobalId', m.global_id], ['storey', m.storey],
      ['fails', (m.fails || []).join(', ') || 'none']]);
    state.picked = { model_id: m.model_id, global_id: m.global_id, loaded: true };
  } else if (picked && picked.id instanceof Cesium.Entity && picked.id.properties) {
    const props = picked.id.properties;
    showTable(picked.id.cimLayer || 'feature', props.propertyNames.map((k) => [k, props[k].getValue()]));
    state.picked = { layer: picked.id.cimLayer, loaded: true };
  } else {
    $('pick').textContent = 'Nothing here.';
    state.picked = null;
  }
  scene.requestRender();
}
new Cesium.ScreenSpaceEventHandler(scene.canvas).setInputAction(onClick, Cesium.ScreenSpaceEventType.LEFT_CLICK);

// ---- test and benchmark hooks ------------------------------------------------------------------------------
function nextFrame() {
  return new Promise((resolve) => {
    const remove = scene.postRender.addEventListener(() => { remove(); resolve(performance.now()); });
    scene.requestRender();
  });
}
async function settle() {
  for (let i = 0; i < 600; i += 1) {
    await nextFrame();
    if (!tileset || tileset.tilesLoaded) return;
  }
}
state.summary = () => ({ firstFrameMs: state.firstFrameMs, tilesLoaded: state.tilesLoaded,
  allTilesLoaded: state.allTilesLoaded, errors: state.errors, clashes: state.clashes.length,
  layers: viewer.dataSources.length, review: state.review ? state.review.model_id : null });
// The screen position of an element's centre, seen from straight above it (the click itself is the caller's).
state.screenPositionOf = async (modelId, globalId) => {
  const url = `/api/centre?model_id=${encodeURIComponent(modelId)}&global_id=${encodeURIComponent(globalId)}`;
  const c = await getJson(url);
  viewer.camera.setView({ destination: Cesium.Cartesian3.fromDegrees(c.lon, c.lat, c.top + 60),
    orientation: { heading: 0, pitch: -Cesium.Math.PI_OVER_TWO, roll: 0 } });
  await settle();
  await nextFrame();
  const at = Cesium.SceneTransforms.worldToWindowCoordinates(scene, Cesium.Cartesian3.fromDegrees(c.lon, c.lat, c.top));
  return at ? { x: at.x, y: at.y } : null;
};
// Mean milliseconds per frame over n frames rendered back to back.
state.timeFrames = async (n) => {
  const start = await nextFrame();
  let end = start;
  for (let i = 0; i < n; i += 1) end = await nextFrame();
  return (end - start) / n;
};

function report(error) {
  state.errors.push(String(error));
  status(`error: ${error.message || error}`);
  console.error(error);
}

// ---- start --------------------------------------------------------------------------------------------------
async function main() {
  const config = await getJson('/api/config');
  state.config = config;
  config.models.filter((m) => m.kind === 'ifc').forEach((m, i) => {
    modelColours[m.model_id] = MODEL_PALETTE[i % MODEL_PALETTE.length];
  });
  modelColours.buildings_existing = '#d7ccc8';
  if (config.extent) addGroundPlane(config.extent, config.ground_m);
  viewer.clock.currentTime = noonAt(config.extent ? config.extent[0] : 0);
  for (const [i, name] of config.layers.entries()) await loadLayer(name, config.ground_m, i);
  const clashes = await getJson('/api/clashes');
  state.clashes = clashes.clashes;
  state.statusByElement = clashes.by_element;
  drawClashes(state.clashes);
  await loadTileset(config.tileset);
  if (config.review) state.review = await window.cimReview.load(viewer, config.review);
  const target = state.review ? state.review.boundingSphere : tileset.boundingSphere;
  viewer.camera.flyToBoundingSphere(target, { duration: 0,
    offset: new Cesium.HeadingPitchRange(0.5, -0.6, target.radius * (state.review ? 3.0 : 1.7)) });
  const counts = config.models.filter((m) => m.kind === 'ifc').length;
  status(`${counts} models, ${config.layers.length} GIS layers, ${state.clashes.length} clashes`);
}

$('colour').addEventListener('change', (e) => { state.colourMode = e.target.value; applyStyle(); });
$('underground').addEventListener('change', (e) => setUnderground(e.target.checked));
$('clashes').addEventListener('change', (e) => { clashSource.show = e.target.checked; scene.requestRender(); });
main().catch(report);
