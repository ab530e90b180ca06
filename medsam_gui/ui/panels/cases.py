"""Cases panel: the table of a project's cases, sortable, filtered by status and searched.

One row per case: case id, status, last editor, active annotation time (h:mm), label
count, comment. A QSortFilterProxyModel sorts (click a header) and filters (the status
combo, and the search box matching case id or comment); ``case_ids_in_view`` gives the
cases in the order shown, which next/previous case follow. Double-clicking a row emits
``case_activated(case_id)``. The panel only shows records; the ProjectController fills it.
"""

from __future__ import annotations

from PyQt6.QtCore import QSortFilterProxyModel, Qt, pyqtSignal
from PyQt6.QtGui import QStandardItem, QStandardItemModel
from PyQt6.QtWidgets import QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLineEdit, QTableView, QVBoxLayout, QWidget

from medsam_gui.project.records import CaseRecord, CaseStatus

COLUMNS = ("Case", "Status", "Last editor", "Active", "Labels", "Comment")
CASE_COLUMN, STATUS_COLUMN, EDITOR_COLUMN, ACTIVE_COLUMN, LABELS_COLUMN, COMMENT_COLUMN = range(len(COLUMNS))
SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # what a column sorts by (numbers for time and label count)
STATUS_ROLE = Qt.ItemDataRole.UserRole + 2  # the CaseStatus value of a row (on the status cell)
ALL_STATUSES = "all statuses"


def hours_minutes(seconds: float) -> str:
    """'1:05' for 3900 s (h:mm, rounded down to the minute)."""
    minutes = int(seconds // 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


class CaseFilterModel(QSortFilterProxyModel):
    """Keeps rows whose status is ``status`` (None: any) and whose case id or comment
    contains ``search_text`` (without regard to case)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.status: str | None = None
        self.search_text = ""
        self.setSortRole(SORT_ROLE)

    def set_filter(self, status: str | None, search_text: str) -> None:
        self.status, self.search_text = status, search_text.strip().casefold()
        self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:
        model = self.sourceModel()

        def cell(column: int, role=Qt.ItemDataRole.DisplayRole):
            return model.data(model.index(source_row, column, source_parent), role)

        if self.status is not None and cell(STATUS_COLUMN, STATUS_ROLE) != self.status:
            return False
        if not self.search_text:
            return True
        return any(self.search_text in str(cell(column) or "").casefold() for column in (CASE_COLUMN, COMMENT_COLUMN))


class CasesPanel(QWidget):
    """The project's case table with a status filter and a search box.

    Signals:
        case_activated(str case_id): the user double-clicked a case.
    """

    case_activated = pyqtSignal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        self.proxy = CaseFilterModel(self)
        self.proxy.setSourceModel(self.model)
        self._rows: dict[str, int] = {}  # case id -> source row

        self.status_filter = QComboBox()
        self.status_filter.setObjectName("cases.status_filter")
        self.status_filter.addItem(ALL_STATUSES, None)
        for status in CaseStatus:
            self.status_filter.addItem(status.text, status.value)
        self.search_box = QLineEdit()
        self.search_box.setObjectName("cases.search")
        self.search_box.setPlaceholderText("Search case or comment")
        self.search_box.setClearButtonEnabled(True)
        self.status_filter.currentIndexChanged.connect(self._apply_filter)
        self.search_box.textChanged.connect(self._apply_filter)

        self.table = QTableView()
        self.table.setObjectName("cases.table")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # project order until a header is clicked
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda index: self.case_activated.emit(self._case_id_at(index)))

        filters = QHBoxLayout()
        filters.addWidget(self.status_filter)
        filters.addWidget(self.search_box, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)

    # -- filling ---------------------------------------------------------------------
    def set_records(self, records: list[CaseRecord]) -> None:
        """Show ``records`` (project order), replacing what was shown."""
        self.model.removeRows(0, self.model.rowCount())
        self._rows = {}
        for record in records:
            self._rows[record.case_id] = self.model.rowCount()
            self.model.appendRow([QStandardItem() for _ in COLUMNS])
            self.update_record(record)

    def update_record(self, record: CaseRecord) -> None:
        """Refresh the row of ``record.case_id`` (after a save or a status change)."""
        row = self._rows.get(record.case_id)
        if row is None:
            return
        status_text = f"problem: {record.problem}" if record.problem else record.status.text
        cells = (
            (record.case_id, record.case_id.casefold()),
            (status_text, list(CaseStatus).index(record.status)),
            (record.last_editor or "", record.last_editor or ""),
            (hours_minutes(record.active_seconds), float(record.active_seconds)),
            (str(record.label_count), record.label_count),
            (record.comment, record.comment.casefold()),
        )
        for column, (text, sort_key) in enumerate(cells):
            item = self.model.item(row, column)
            item.setText(text)
            item.setData(sort_key, SORT_ROLE)
            item.setToolTip(text)
        self.model.item(row, STATUS_COLUMN).setData(None if record.problem else record.status.value, STATUS_ROLE)

    # -- reading ---------------------------------------------------------------------
    def case_ids_in_view(self) -> list[str]:
        """The case ids shown, in the order shown (sorted and filtered)."""
        return [self._case_id_at(self.proxy.index(row, CASE_COLUMN)) for row in range(self.proxy.rowCount())]

    def row_texts(self, case_id: str) -> list[str]:
        """The cells of ``case_id``'s row as shown."""
        row = self._rows[case_id]
        return [self.model.item(row, column).text() for column in range(len(COLUMNS))]

    def select_case(self, case_id: str) -> None:
        """Highlight ``case_id``'s row (the open case) when it is shown."""
        row = self._rows.get(case_id)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row, CASE_COLUMN))
        if index.isValid():
            self.table.selectRow(index.row())
            self.table.scrollTo(index)

    def set_status_filter(self, status: CaseStatus | None) -> None:
        """Show only cases with ``status`` (None: all)."""
        self.status_filter.setCurrentIndex(self.status_filter.findData(None if status is None else status.value))

    def _apply_filter(self) -> None:
        self.proxy.set_filter(self.status_filter.currentData(), self.search_box.text())

    def _case_id_at(self, proxy_index) -> str:
        return str(self.proxy.data(self.proxy.index(proxy_index.row(), CASE_COLUMN)))
