// The NYC borough map of the Prestacop pages (operator console, analytics dashboard): plain JS
// and SVG, no dependency, nothing fetched but the app's own /map/nyc_boroughs.geojson.
//
// Projection (equirectangular, x shrunk by the cosine of the middle latitude so that shapes keep
// their proportions at NYC's latitude), over the bounding box of the five boroughs' boundaries:
//   phi0 = (north + south) / 2 (radians),  k = (WIDTH - 2 PAD) / ((east - west) cos phi0)
//   x = PAD + (lon - west) cos phi0 k,      y = PAD + (north - lat) k
//   height = 2 PAD + (north - south) k
// Every drawn element carries its data in attributes (data-borough, data-lon, data-lat), and text
// from data is only ever set as textContent, never parsed as HTML.
"use strict";

window.NycMap = (() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const WIDTH = 800;
  const PAD = 10;
  const GEOJSON_URL = "/map/nyc_boroughs.geojson";

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG_NS, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (parent) parent.appendChild(node);
    return node;
  }

  function rings(feature) {
    const geometry = feature.geometry;
    const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
    return polygons.flat();
  }

  function bounds(geojson) {
    const box = { west: Infinity, east: -Infinity, south: Infinity, north: -Infinity };
    for (const feature of geojson.features) {
      for (const ring of rings(feature)) {
        for (const [lon, lat] of ring) {
          box.west = Math.min(box.west, lon); box.east = Math.max(box.east, lon);
          box.south = Math.min(box.south, lat); box.north = Math.max(box.north, lat);
        }
      }
    }
    return box;
  }

  function projection(box, width = WIDTH) {
    const cos = Math.cos(((box.north + box.south) / 2) * Math.PI / 180);
    const k = (width - 2 * PAD) / ((box.east - box.west) * cos);
    return {
      width,
      height: 2 * PAD + (box.north - box.south) * k,
      bounds: box,
      project: (lon, lat) => ({ x: PAD + (lon - box.west) * cos * k, y: PAD + (box.north - lat) * k }),
    };
  }

  function pathData(ringList, project) {
    return ringList.map((ring) => ring.map(([lon, lat], i) => {
      const { x, y } = project(lon, lat);
      return `${i ? "L" : "M"}${x.toFixed(2)},${y.toFixed(2)}`;
    }).join("") + "Z").join("");
  }

  function labelPosition(feature) {
    let biggest = null, size = -1;
    for (const ring of rings(feature)) {
      if (ring.length > size) { biggest = ring; size = ring.length; }
    }
    const lons = biggest.map((p) => p[0]), lats = biggest.map((p) => p[1]);
    return [(Math.min(...lons) + Math.max(...lons)) / 2, (Math.min(...lats) + Math.max(...lats)) / 2];
  }

  async function loadBoroughs() {
    const response = await fetch(GEOJSON_URL);
    if (!response.ok) throw new Error(`${GEOJSON_URL}: HTTP ${response.status}`);
    return response.json();
  }

  // Draw the five boroughs into container; returns the map: project(), point(), cell(),
  // boroughAt() and its layers (boroughs below, then cells, then points, then labels).
  function draw(container, geojson, options = {}) {
    const view = projection(bounds(geojson), options.width || WIDTH);
    const svg = el("svg", {
      viewBox: `0 0 ${view.width} ${view.height.toFixed(2)}`, width: "100%", role: "img",
      class: "nyc-map", "aria-label": "Map of New York City's five boroughs",
    }, container);
    const layer = (name) => el("g", { class: `layer-${name}` }, svg);
    const boroughLayer = layer("boroughs"), cellLayer = layer("cells");
    const pointLayer = layer("points"), labelLayer = layer("labels");
    const boroughs = {};
    for (const feature of geojson.features) {
      const name = String(feature.properties.BoroName).toUpperCase();
      const path = el("path", {
        d: pathData(rings(feature), view.project), class: "borough", "data-borough": name,
        "fill-rule": "evenodd", fill: "#dde5ee", stroke: "#6b7f99", "stroke-width": 0.8,
      }, boroughLayer);
      el("title", {}, path).textContent = String(feature.properties.BoroName);
      boroughs[name] = path;
      const [lon, lat] = labelPosition(feature);
      const { x, y } = view.project(lon, lat);
      el("text", { x: x.toFixed(1), y: y.toFixed(1), class: "borough-label", "text-anchor": "middle",
        fill: "#4a5a70" },
        labelLayer).textContent = String(feature.properties.BoroName);
    }

    function point(lon, lat, attrs = {}) {
      const { x, y } = view.project(lon, lat);
      return el("circle", {
        cx: x.toFixed(2), cy: y.toFixed(2), r: 5, class: "point", "data-lon": lon, "data-lat": lat,
        fill: "#d62828", stroke: "#fff", "stroke-width": 1.5,
        ...attrs,
      }, pointLayer);
    }

    function cell(lon, lat, sizeDeg, attrs = {}) {
      const half = sizeDeg / 2;
      const a = view.project(lon - half, lat + half), b = view.project(lon + half, lat - half);
      return el("rect", {
        x: a.x.toFixed(2), y: a.y.toFixed(2), width: Math.max(b.x - a.x, 0.5).toFixed(2),
        height: Math.max(b.y - a.y, 0.5).toFixed(2), class: "cell", "data-lon": lon, "data-lat": lat,
        ...attrs,
      }, cellLayer);
    }

    // The borough whose drawn shape holds the position (null at sea or outside the city).
    function boroughAt(lon, lat) {
      const { x, y } = view.project(lon, lat);
      const probe = new DOMPoint(x, y);
      for (const [name, path] of Object.entries(boroughs)) if (path.isPointInFill(probe)) return name;
      return null;
    }

    container.dataset.boroughs = String(Object.keys(boroughs).length);
    return { svg, project: view.project, bounds: view.bounds, point, cell, boroughAt, boroughs, el };
  }

  return { draw, loadBoroughs, projection, bounds, WIDTH, PAD };
})();
