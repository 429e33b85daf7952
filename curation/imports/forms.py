"""The upload form of an import, shared by the app's import page and the admin."""

import zipfile

from django import forms
from django.conf import settings

from curation.imports.service import ImportFailed, validate_title_name
from curation.models import ImportJob


class ImportJobForm(forms.ModelForm):
    class Meta:
        model = ImportJob
        fields = ["name", "upload"]

    def clean_name(self):
        try:
            return validate_title_name(self.cleaned_data["name"])
        except ImportFailed as error:
            raise forms.ValidationError(str(error)) from None

    def clean_upload(self):
        upload = self.cleaned_data["upload"]
        if not upload:
            raise forms.ValidationError("choose a .zip of cluster folders")
        if upload.size > settings.MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"the file is {upload.size} bytes, over the limit of {settings.MAX_UPLOAD_BYTES}"
            )
        if not zipfile.is_zipfile(upload):
            raise forms.ValidationError("not a zip file")
        upload.seek(0)
        return upload
