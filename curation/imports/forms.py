"""The upload form of an import, shared by the app's import page and the admin."""

import tempfile
import zipfile
from pathlib import Path

from django import forms
from django.conf import settings

from curation.imports.service import ImportFailed, validate_title_name
from curation.imports.video import VideoImportFailed, video_check
from curation.models import ImportJob


class ImportJobForm(forms.ModelForm):
    class Meta:
        model = ImportJob
        fields = ["name", "upload"]
        widgets = {
            "upload": forms.ClearableFileInput(
                attrs={"accept": ".zip,.mp4,.mkv,.mov,.webm,.avi,.m4v,video/*"}
            )
        }

    def clean_name(self):
        try:
            return validate_title_name(self.cleaned_data["name"])
        except ImportFailed as error:
            raise forms.ValidationError(str(error)) from None

    def clean_upload(self):
        upload = self.cleaned_data["upload"]
        if not upload:
            raise forms.ValidationError("choose a video or a .zip of cluster folders")
        if upload.size > settings.MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"the file is {upload.size} bytes, over the limit of {settings.MAX_UPLOAD_BYTES}"
            )
        is_zip = zipfile.is_zipfile(upload)
        upload.seek(0)
        if upload.name.lower().endswith(".zip") and not is_zip:
            raise forms.ValidationError("not a valid zip file")
        if not is_zip:
            try:
                _video_check(upload)
            except VideoImportFailed as error:
                raise forms.ValidationError(str(error)) from None
            upload.seek(0)
        return upload


def _video_check(upload) -> None:
    """Refuse at once what is no video, or one over the limits: the upload is probed on disk."""
    if hasattr(upload, "temporary_file_path"):
        video_check(Path(upload.temporary_file_path()), name=upload.name)
        return
    suffix = Path(upload.name).suffix[:10]
    with tempfile.NamedTemporaryFile(suffix=suffix) as copy:
        for chunk in upload.chunks():
            copy.write(chunk)
        copy.flush()
        video_check(Path(copy.name), name=upload.name)
