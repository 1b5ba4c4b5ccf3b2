from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel

from tunesmith.service.deps import ServicesDep
from tunesmith.service.previews import preview_name
from tunesmith.service.responses import file_response

router = APIRouter(prefix="/api/styles", tags=["styles"])


class StyleOut(BaseModel):
    name: str
    title: str
    description: str
    tempo_range: tuple[float, float]
    preview_url: str


@router.get("")
def list_styles() -> list[StyleOut]:
    from tunesmith.arrange import load_style
    from tunesmith.arrange.style import style_names

    out = []
    for name in style_names():
        s = load_style(name)
        out.append(StyleOut(name=name, title=s.title, description=s.description,
                            tempo_range=s.tempo_range, preview_url=f"/api/styles/{name}/preview.wav"))
    return out


@router.get("/{name}/preview.wav", response_class=FileResponse)
def preview(name: str, request: Request, services: ServicesDep) -> Response:
    from tunesmith.arrange.style import style_names

    if name not in style_names():
        raise HTTPException(404, f"unknown style '{name}'")
    folder = services.storage.previews()
    if not folder.exists(preview_name(name)):
        raise HTTPException(503, "the preview is still being made; try again in a moment",
                            headers={"Retry-After": "5"})
    return file_response(folder, preview_name(name), request, media_type="audio/wav")
