// The review's 3-D view: the submission (failing elements red) among its city context, drawn with three.js.
// Everything this page needs is inside the page: three.js through the import map, the scene as JSON.
import * as THREE from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';

const scene3d = JSON.parse(document.getElementById('cim-scene').textContent);
const state = { ready: false, frames: 0, meshes: 0, failing: 0 };
window.cimView3d = state;

function decode(text, Type) {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return new Type(bytes.buffer);
}

const host = document.getElementById('view');
const renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
renderer.setPixelRatio(window.devicePixelRatio || 1);
renderer.setSize(host.clientWidth, host.clientHeight);
host.appendChild(renderer.domElement);

const scene = new THREE.Scene();
scene.background = new THREE.Color(0xe8edf2);
scene.add(new THREE.HemisphereLight(0xffffff, 0x667788, 2.2));
const sun = new THREE.DirectionalLight(0xffffff, 1.6);
sun.position.set(-300, -500, 800);
scene.add(sun);

const colours = { fail: 0xd32f2f, submission: 0x90a4ae, context: 0xcfd8dc, buildings_existing: 0xbcaaa4 };
const pickable = [];
const bounds = new THREE.Box3();
for (const m of scene3d.meshes) {
  const geometry = new THREE.BufferGeometry();
  geometry.setAttribute('position', new THREE.BufferAttribute(decode(m.positions, Float32Array), 3));
  geometry.setIndex(new THREE.BufferAttribute(decode(m.indices, Uint32Array), 1));
  geometry.computeVertexNormals();
  const failing = m.fails && m.fails.length > 0;
  const key = failing ? 'fail' : m.role === 'submission' ? 'submission' : (colours[m.model_id] ? m.model_id : 'context');
  const material = new THREE.MeshLambertMaterial({
    color: colours[key], side: THREE.DoubleSide,
    transparent: m.role !== 'submission', opacity: m.role === 'submission' ? 1 : 0.55,
  });
  const mesh = new THREE.Mesh(geometry, material);
  mesh.userData = m;
  scene.add(mesh);
  if (m.role === 'submission') { pickable.push(mesh); geometry.computeBoundingBox(); bounds.union(geometry.boundingBox); }
  state.meshes += 1;
  if (failing) state.failing += 1;
}

const lineColours = { parcel: 0x2e7d32, setback: 0x66bb6a, red_line: 0xd50000, footprint: 0x1565c0, tunnel: 0x6a1b9a,
  protection_zone: 0xab47bc, pipeline: 0x0277bd };
for (const line of scene3d.lines) {
  const z = line.kind === 'tunnel' || line.kind === 'protection_zone' || line.kind === 'pipeline' ? -3 : 0.05;
  const points = line.points.map(([x, y]) => new THREE.Vector3(x, y, z));
  const geometry = new THREE.BufferGeometry().setFromPoints(points);
  scene.add(new THREE.Line(geometry, new THREE.LineBasicMaterial({ color: lineColours[line.kind] || 0x333333 })));
}
for (const c of scene3d.clashes) {
  const dot = new THREE.Mesh(new THREE.SphereGeometry(0.6, 16, 12), new THREE.MeshBasicMaterial({ color: 0xff1744 }));
  dot.position.set(c.point[0], c.point[1], c.point[2]);
  scene.add(dot);
}
const [x0, y0, x1, y1] = scene3d.box;
const ground = new THREE.Mesh(new THREE.PlaneGeometry(x1 - x0, y1 - y0),
  new THREE.MeshLambertMaterial({ color: 0x9ccc65, transparent: true, opacity: 0.45, side: THREE.DoubleSide,
    depthWrite: false }));
ground.position.set((x0 + x1) / 2, (y0 + y1) / 2, 0);
scene.add(ground);
document.getElementById('ground').addEventListener('change', (e) => { ground.visible = e.target.checked; render(); });

const camera = new THREE.PerspectiveCamera(45, host.clientWidth / host.clientHeight, 0.5, 20000);
camera.up.set(0, 0, 1);
const centre = bounds.isEmpty() ? new THREE.Vector3() : bounds.getCenter(new THREE.Vector3());
const size = bounds.isEmpty() ? 50 : bounds.getSize(new THREE.Vector3()).length();
camera.position.set(centre.x - size * 0.9, centre.y - size * 1.1, centre.z + size * 0.8);
const controls = new OrbitControls(camera, renderer.domElement);
controls.target.copy(centre);
controls.update();
controls.addEventListener('change', render);

function render() {
  renderer.render(scene, camera);
  state.frames += 1;
}
window.addEventListener('resize', () => {
  camera.aspect = host.clientWidth / host.clientHeight;
  camera.updateProjectionMatrix();
  renderer.setSize(host.clientWidth, host.clientHeight);
  render();
});

const failed = scene3d.checks.filter((c) => c.status === 'fail');
document.getElementById('summary').textContent =
  `${scene3d.model_id} on parcel ${scene3d.parcel_id || '-'}: ${scene3d.verdict.toUpperCase()}, ` +
  `${failed.length} failed check(s), ${scene3d.clashes.length} clash(es)`;
const list = document.getElementById('failed');
for (const c of failed) {
  const li = document.createElement('li');
  li.className = 'fail';
  li.textContent = `${c.title}: ${c.message}`;
  list.appendChild(li);
}

const raycaster = new THREE.Raycaster();
renderer.domElement.addEventListener('click', (event) => {
  const rect = renderer.domElement.getBoundingClientRect();
  const pointer = new THREE.Vector2(((event.clientX - rect.left) / rect.width) * 2 - 1,
    -((event.clientY - rect.top) / rect.height) * 2 + 1);
  raycaster.setFromCamera(pointer, camera);
  const hit = raycaster.intersectObjects(pickable, false)[0];
  const box = document.getElementById('pick');
  if (!hit) { box.textContent = 'Nothing picked.'; state.picked = null; return; }
  const m = hit.object.userData;
  state.picked = m.global_id;
  box.textContent = `${m.ifc_class || ''} ${m.name || ''}\nGlobalId ${m.global_id}\nstorey ${m.storey || '-'}` +
    (m.fails.length ? `\nfails: ${m.fails.join(', ')}` : '');
});

render();
state.ready = true;
