// Sorting a layer's grid of channels by the statistics each cell carries (data-*).
(function () {
  "use strict";
  var order = document.getElementById("order");
  var grid = document.getElementById("grid");
  if (!order || !grid) { return; }
  var keys = {
    channel: function (cell) { return Number(cell.dataset.channel); },
    mean: function (cell) { return -Number(cell.dataset.mean); },
    max: function (cell) { return -Number(cell.dataset.max); },
    active: function (cell) { return -Number(cell.dataset.active); },
    selectivity: function (cell) { return -Number(cell.dataset.selectivity); },
    dead: function (cell) { return -Number(cell.dataset.dead) * 2 + Number(cell.dataset.active); }
  };
  function sort() {
    var key = keys[order.value] || keys.channel;
    var cells = Array.prototype.slice.call(grid.children);
    cells.sort(function (a, b) {
      return (key(a) - key(b)) || (Number(a.dataset.channel) - Number(b.dataset.channel));
    });
    cells.forEach(function (cell) { grid.appendChild(cell); });
    if (window.history && window.history.replaceState && location.protocol !== "file:") {
      window.history.replaceState(null, "", "#" + order.value);
    }
  }
  var wanted = location.hash.slice(1);
  if (keys[wanted]) { order.value = wanted; }
  order.addEventListener("change", sort);
  sort();
}());
