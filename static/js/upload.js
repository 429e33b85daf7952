// The import form: drag and drop onto the drop zone, and the upload's progress while it is sent.
// Without this script the form is a plain multipart POST and works the same, without the bar.
(function () {
  "use strict";
  const form = document.querySelector("form[data-upload]");
  if (!form) return;
  const zone = form.querySelector("[data-dropzone]");
  const input = form.querySelector("input[type=file]");
  const text = form.querySelector("[data-dropzone-text]");
  const bar = form.querySelector("[data-upload-bar]");
  const status = form.querySelector("[data-upload-status]");

  const showName = () => { if (input.files.length) text.textContent = input.files[0].name; };
  input.addEventListener("change", showName);
  ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  }));
  ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, () => zone.classList.remove("dragging")));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      showName();
    }
  });

  form.addEventListener("submit", (event) => {
    if (!window.FormData || !input.files.length) return; // the server says what is missing
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open("POST", form.action || window.location.href);
    request.upload.addEventListener("progress", (progress) => {
      if (!progress.lengthComputable) return;
      const percent = Math.round((100 * progress.loaded) / progress.total);
      bar.hidden = false;
      bar.firstElementChild.style.width = `${percent}%`;
      status.textContent = `Uploading… ${percent} %`;
    });
    request.addEventListener("load", () => {
      if (request.status < 400 && request.responseURL) {
        window.location.assign(request.responseURL); // the job page
      } else {
        document.open();
        document.write(request.responseText); // the form again, with its errors
        document.close();
      }
    });
    request.addEventListener("error", () => { status.textContent = "The upload failed: check the connection and try again."; });
    form.querySelectorAll("button").forEach((button) => { button.disabled = true; });
    request.send(new FormData(form));
  });
})();
