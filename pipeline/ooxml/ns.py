"""OOXML namespaces (ISO/IEC 29500), in the manner of python-docx's `oxml/ns.py`, and the package
parts both formats share: the writers and the readers of a package import them from here, never
retype them."""

from __future__ import annotations

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
SML_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CUSTOM_NS = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
APP_NS = "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"
VT_NS = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
CP_NS = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
DC_NS = "http://purl.org/dc/elements/1.1/"
DCTERMS_NS = "http://purl.org/dc/terms/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"

#: Relationship types (a package's `_rels/.rels` and a part's rels).
REL_OFFICE_DOCUMENT = f"{R_NS}/officeDocument"
REL_HEADER = f"{R_NS}/header"
REL_FOOTER = f"{R_NS}/footer"
REL_CUSTOM = f"{R_NS}/custom-properties"
CUSTOM_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
#: The fmtid every user-defined custom property carries.
CUSTOM_FMTID = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"

#: Package parts every OOXML file we write has, by their names in the zip (both formats).
CONTENT_TYPES_PART = "[Content_Types].xml"
PACKAGE_RELS_PART = "_rels/.rels"
CORE_PART = "docProps/core.xml"
APP_PART = "docProps/app.xml"
CUSTOM_PART = "docProps/custom.xml"


def w(tag: str) -> str:
    """The Clark name of a WordprocessingML element or attribute (`w:tag`)."""
    return f"{{{W_NS}}}{tag}"
