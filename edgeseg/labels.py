"""Label sets: what a model's class ids mean (names, thing/stuff, colours, keypoints, skeleton).

Why here and torch-free: the label set travels with the model (ONNX metadata `edgeseg.labels`, the
engine sidecar's `labels`), and the runtime, which knows no dataset, reads it from there. Export,
training and data code share the built-in sets below, so ShapesWorld's table has one source.

Conventions: category ids as the model emits them (COCO style, 1-based for the built-ins);
semantic maps index `categories` by position (255 = ignore); the skeleton is 1-based into
`keypoints`, as in COCO files. A set with no categories is the "ids" set: overlays show
"class <id>" and no dataset's names.

File format (YAML or JSON)::

    name: my-robot
    categories:                      # or a plain list of names: ids 1..n, all things
      - {id: 1, name: cup, isthing: true, color: [220, 20, 60]}
      - {id: 2, name: floor, isthing: false}
    keypoints: [tip, base]           # optional
    skeleton: [[1, 2]]               # optional, 1-based
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError

METADATA_KEY = "edgeseg.labels"
UNKNOWN_COLOR = (200, 200, 200)


def palette_color(category_id: int) -> tuple[int, int, int]:
    """A fixed, well-spread colour per id, for categories that bring none (ids-only sets, COCO)."""
    i = int(category_id)
    return ((i * 67 + 40) % 200 + 40, (i * 131 + 100) % 200 + 40, (i * 197 + 160) % 200 + 40)


@dataclass(frozen=True)
class Category:
    id: int
    name: str
    isthing: bool = True
    color: tuple[int, int, int] = UNKNOWN_COLOR  # overlay / panoptic PNG colour, RGB


@dataclass(frozen=True)
class LabelSet:
    """One model's label space; `categories` in semantic-index order."""

    name: str = "ids"
    categories: tuple[Category, ...] = ()
    keypoints: tuple[str, ...] = ()
    skeleton: tuple[tuple[int, int], ...] = ()
    _by_id: dict[int, Category] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id.update({c.id: c for c in self.categories})

    @property
    def is_ids(self) -> bool:
        """True when the model brought no names (overlays then show ids)."""
        return not self.categories

    def get(self, category_id: int) -> Category | None:
        return self._by_id.get(int(category_id))

    def name_of(self, category_id: int) -> str:
        cat = self._by_id.get(int(category_id))
        return cat.name if cat is not None else f"class {int(category_id)}"

    def color_of(self, category_id: int) -> tuple[int, int, int]:
        cat = self._by_id.get(int(category_id))
        if cat is not None:
            return cat.color
        return palette_color(category_id) if self.is_ids else UNKNOWN_COLOR

    @property
    def things(self) -> tuple[Category, ...]:
        return tuple(c for c in self.categories if c.isthing)

    @property
    def stuff(self) -> tuple[Category, ...]:
        return tuple(c for c in self.categories if not c.isthing)

    @cached_property
    def semantic_colors(self) -> tuple[tuple[int, int, int], ...]:
        """Colour of each semantic index; an ids set colours every index 0..254 from the palette."""
        if self.is_ids:
            return tuple(palette_color(i) for i in range(255))
        return tuple(c.color for c in self.categories)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name,
                "categories": [{"id": c.id, "name": c.name, "isthing": c.isthing, "color": list(c.color)}
                               for c in self.categories],
                "keypoints": list(self.keypoints), "skeleton": [list(p) for p in self.skeleton]}

    def dumps(self) -> str:
        """Compact JSON, as stored in metadata."""
        return json.dumps(self.to_json(), separators=(",", ":"))

    def coco_categories(self, keypoint_category: int | None = None) -> list[dict[str, Any]]:
        """The `categories` list of COCO files; `keypoint_category` carries keypoints and skeleton."""
        out = []
        for c in self.categories:
            entry: dict[str, Any] = {"id": c.id, "name": c.name,
                                     "supercategory": "thing" if c.isthing else "stuff",
                                     "isthing": int(c.isthing), "color": list(c.color)}
            if c.id == keypoint_category:
                entry["keypoints"] = list(self.keypoints)
                entry["skeleton"] = [list(pair) for pair in self.skeleton]
            out.append(entry)
        return out


def parse_labels(data: Any, source: str = "labels") -> LabelSet:
    """A LabelSet from parsed JSON/YAML (a mapping, a list of names, or a built-in set's name)."""
    if isinstance(data, str):
        return builtin(data)
    if isinstance(data, list):
        data = {"categories": data}
    if not isinstance(data, Mapping):
        raise EdgesegError(f"{source}: a label set is a mapping with `categories` (or a list of names)")
    try:
        cats = []
        for k, entry in enumerate(data.get("categories") or []):
            entry = {"name": entry} if isinstance(entry, str) else entry
            cid = int(entry.get("id", k + 1))
            color = entry.get("color")
            cats.append(Category(cid, str(entry["name"]), bool(entry.get("isthing", True)),
                                 tuple(int(v) for v in color) if color else palette_color(cid)))  # type: ignore[arg-type]
        keypoints = tuple(str(k) for k in data.get("keypoints") or ())
        skeleton = tuple((int(a), int(b)) for a, b in data.get("skeleton") or ())
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise EdgesegError(f"{source}: damaged label set ({type(exc).__name__}: {exc})") from None
    if len({c.id for c in cats}) != len(cats):
        raise EdgesegError(f"{source}: category ids repeat; give each category its own id")
    if any(len(c.color) != 3 for c in cats):
        raise EdgesegError(f"{source}: colours are [R, G, B]")
    if any(not (1 <= i <= len(keypoints)) for pair in skeleton for i in pair):
        raise EdgesegError(f"{source}: skeleton indices are 1-based into `keypoints` (1..{len(keypoints)})")
    return LabelSet(str(data.get("name") or "custom"), tuple(cats), keypoints, skeleton)


def load_labels(path: str | Path) -> LabelSet:
    """A label file: JSON (.json) or YAML (anything else), or a built-in set's name."""
    text = str(path)
    if text in BUILTIN_NAMES:
        return builtin(text)
    path = Path(path)
    if not path.is_file():
        raise EdgesegError(f"label file {path} not found: pass a YAML/JSON file or one of "
                           f"{', '.join(BUILTIN_NAMES)}")
    raw = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(raw)
        else:
            import yaml

            data = yaml.safe_load(raw)
    except ValueError as exc:  # json.JSONDecodeError and yaml.YAMLError's parse errors
        raise EdgesegError(f"{path} is not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - yaml's errors are not ValueErrors
        raise EdgesegError(f"{path} is not valid YAML: {exc}") from None
    return parse_labels(data, str(path))


# --- built-in sets -----------------------------------------------------------------------------

COCO_KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
    (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)

SHAPESWORLD = LabelSet("shapesworld", (
    Category(1, "circle", True, (220, 20, 60)),
    Category(2, "square", True, (0, 130, 200)),
    Category(3, "triangle", True, (255, 180, 0)),
    Category(4, "star", True, (145, 30, 180)),
    Category(5, "person", True, (250, 250, 250)),
    Category(6, "sky", False, (135, 200, 235)),
    Category(7, "grass", False, (60, 160, 60)),
    Category(8, "water", False, (30, 80, 160)),
    Category(9, "road", False, (110, 110, 110)),
    Category(10, "wall", False, (170, 120, 90)),
), COCO_KEYPOINTS, COCO_SKELETON)

# torchvision's 91-entry detection table: index = category id; "N/A" ids are unused by COCO.
COCO_91: tuple[str, ...] = (
    "__background__", "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck",
    "boat", "traffic light", "fire hydrant", "N/A", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "N/A", "backpack", "umbrella",
    "N/A", "N/A", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle", "N/A",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed",
    "N/A", "dining table", "N/A", "N/A", "toilet", "N/A", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "N/A", "book", "clock", "vase",
    "scissors", "teddy bear", "hair drier", "toothbrush",
)
# COCO panoptic's 53 stuff categories (ids 92..200; "-merged" ones join several stuff classes).
COCO_PANOPTIC_STUFF: tuple[tuple[int, str], ...] = (
    (92, "banner"), (93, "blanket"), (95, "bridge"), (100, "cardboard"), (107, "counter"), (109, "curtain"),
    (112, "door-stuff"), (118, "floor-wood"), (119, "flower"), (122, "fruit"), (125, "gravel"),
    (128, "house"), (130, "light"), (133, "mirror-stuff"), (138, "net"), (141, "pillow"), (144, "platform"),
    (145, "playingfield"), (147, "railroad"), (148, "river"), (149, "road"), (151, "roof"), (154, "sand"),
    (155, "sea"), (156, "shelf"), (159, "snow"), (161, "stairs"), (166, "tent"), (168, "towel"),
    (171, "wall-brick"), (175, "wall-stone"), (176, "wall-tile"), (177, "wall-wood"), (178, "water-other"),
    (180, "window-blind"), (181, "window-other"), (184, "tree-merged"), (185, "fence-merged"),
    (186, "ceiling-merged"), (187, "sky-other-merged"), (188, "cabinet-merged"), (189, "table-merged"),
    (190, "floor-other-merged"), (191, "pavement-merged"), (192, "mountain-merged"), (193, "grass-merged"),
    (194, "dirt-merged"), (195, "paper-merged"), (196, "food-other-merged"), (197, "building-other-merged"),
    (198, "rock-merged"), (199, "wall-other-merged"), (200, "rug-merged"),
)
_COCO_THINGS = tuple(Category(i, n, True, palette_color(i))
                     for i, n in enumerate(COCO_91) if i and n != "N/A")
COCO = LabelSet("coco", _COCO_THINGS, COCO_KEYPOINTS, COCO_SKELETON)
COCO_PANOPTIC = LabelSet("coco_panoptic", _COCO_THINGS + tuple(
    Category(i, n, False, palette_color(i)) for i, n in COCO_PANOPTIC_STUFF), COCO_KEYPOINTS, COCO_SKELETON)
IDS = LabelSet()

BUILTINS: dict[str, LabelSet] = {s.name: s for s in (SHAPESWORLD, COCO, COCO_PANOPTIC)}
BUILTIN_NAMES = tuple(BUILTINS)


def builtin(name: str) -> LabelSet:
    if name not in BUILTINS:
        raise EdgesegError(f"unknown built-in label set {name!r}: use one of {', '.join(BUILTIN_NAMES)} "
                           "or a YAML/JSON label file")
    return BUILTINS[name]


def zoo_labels(model: str) -> LabelSet | None:
    """The built-in set the zoo index names for zoo model `model` (graphs exported before
    `edgeseg.labels` existed carry only the model name); None for names the zoo does not know."""
    index = Path(__file__).resolve().parent / "zoo" / "zoo.json"
    if not index.is_file():
        return None
    models = json.loads(index.read_text(encoding="utf-8")).get("models", {})
    entry = models.get(model)
    while entry is not None and "labels" not in entry and "base" in entry:
        entry = models.get(entry["base"])
    name = entry.get("labels") if entry else None
    return BUILTINS.get(name) if isinstance(name, str) else None


def labels_from_metadata(props: Mapping[str, str], source: str = "model") -> LabelSet:
    """The label set a graph (or sidecar) carries: `edgeseg.labels`, else the zoo's built-in set for
    an `edgeseg.model` the zoo knows, else the ids set (never another dataset's names)."""
    if METADATA_KEY in props:
        try:
            data = json.loads(props[METADATA_KEY])
        except ValueError:
            raise EdgesegError(f"{source} has damaged {METADATA_KEY} metadata: re-export it") from None
        return parse_labels(data, f"{source} {METADATA_KEY}")
    if props.get("edgeseg.family") == "torchvision":  # a user's checkpoint may share a zoo name
        return IDS
    found = zoo_labels(props.get("edgeseg.model", ""))
    return found if found is not None else IDS
