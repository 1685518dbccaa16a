// The consent page's enhancements; the page works without them (the
// server answers an approval with nothing ticked by showing the page again
// with a message).
//  - Select all / none.
//  - While nothing is ticked, "Autorizar" is disabled and a line says why:
//    pressing it could only ask again.
(function () {
  var form = document.getElementById("consent");
  if (!form) return;
  var boxes = form.querySelectorAll('input[name="granted"]');
  var approve = form.querySelector('button[name="decision"][value="approve"]');
  var hint = document.getElementById("tick-one");
  function update() {
    var any = Array.prototype.some.call(boxes, function (box) { return box.checked; });
    if (approve) approve.disabled = !any;
    if (hint) hint.hidden = any;
  }
  var tools = form.querySelector(".select-tools");
  if (tools) {
    tools.hidden = false;
    tools.addEventListener("click", function (e) {
      var which = e.target.getAttribute("data-select");
      if (!which) return;
      boxes.forEach(function (box) { box.checked = which === "all"; });
      update();
    });
  }
  form.addEventListener("change", update);
  update();
})();
